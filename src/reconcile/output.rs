//! `logmeter reconcile`'s three outputs: a table for people, JSON for programs, CSV for a spreadsheet.

use super::margin::{Margins, Money};
use super::{Outcome, Share};
use std::collections::BTreeMap;
use std::io::Write;

/// How results are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned text tables.
    Table,
    /// One JSON object: `unmetered`, `orphans`, `customers`, `unattributed`, `customer_days`, `functions`,
    /// `totals`.
    Json,
    /// One row per customer, function and day, a column per meter.
    Csv,
}

fn w(e: std::io::Error) -> String {
    format!("cannot write the results: {e}")
}

/// The p99 duration of a function, ms.
fn p99(stats: &super::FunctionStats) -> Option<f64> {
    stats.durations.quantile(0.99)
}

/// Writes `outcome` in `format`.
pub fn write(outcome: &Outcome, format: Format, out: &mut dyn Write) -> Result<(), String> {
    match format {
        Format::Json => json(outcome, out),
        Format::Csv => csv(outcome, out),
        Format::Table => table(outcome, out),
    }
}

fn share_json(s: &Share) -> serde_json::Value {
    serde_json::json!({
        "cost_usd": s.cost_usd,
        "invocations": s.invocations,
        "billed_gb_seconds": s.billed_gb_seconds,
        "usage": s.usage,
    })
}

/// A JSON array's elements, written comma-separated as they come; the first write error is kept.
struct Elements<'a> {
    out: &'a mut dyn Write,
    first: bool,
    result: Result<(), String>,
}

impl<'a> Elements<'a> {
    fn new(out: &'a mut dyn Write) -> Self {
        Self { out, first: true, result: Ok(()) }
    }

    fn push<T: serde::Serialize>(&mut self, v: &T) {
        if self.result.is_ok() {
            let sep = if std::mem::take(&mut self.first) { "" } else { "," };
            self.result = write!(self.out, "{sep}{}", serde_json::to_string(v).unwrap_or_default()).map_err(w);
        }
    }
}

fn json(outcome: &Outcome, out: &mut dyn Write) -> Result<(), String> {
    // Streamed: the unmetered invocations and orphans come from disk one by one.
    let ledger = &outcome.ledger;
    write!(out, "{{\"unmetered\":[").map_err(w)?;
    let mut list = Elements::new(out);
    outcome.each_unmetered(|u| list.push(&u))?;
    list.result?;
    write!(out, "],\"orphans\":[").map_err(w)?;
    let mut list = Elements::new(out);
    outcome.each_orphan(|o| list.push(&o))?;
    list.result?;
    // Each entry is written as it is built: a day's customers × functions can be many.
    let mut array = |name: &str, items: &mut dyn Iterator<Item = serde_json::Value>| -> Result<(), String> {
        write!(out, "],\"{name}\":[").map_err(w)?;
        let mut list = Elements::new(&mut *out);
        items.for_each(|v| list.push(&v));
        list.result
    };
    let margins = outcome.margins.as_ref();
    let customer_money = margins.map(Margins::customers).unwrap_or_default();
    let unpriced = |customer: &str| -> serde_json::Map<String, serde_json::Value> {
        margins.map_or_else(serde_json::Map::new, |m| {
            m.unpriced
                .iter()
                .filter(|((c, _), _)| c == customer)
                .map(|((_, meter), v)| (meter.clone(), (*v).into()))
                .collect()
        })
    };
    array(
        "customers",
        &mut ledger.customers().iter().map(|(c, s)| {
            let mut v = share_json(s);
            v["customer_id"] = (*c).into();
            if margins.is_some() {
                money_json(&mut v, customer_money.get(c).copied().unwrap_or_default());
                v["unpriced_usage"] = unpriced(c).into();
            }
            v
        }),
    )?;
    array(
        "customer_days",
        &mut ledger.days.iter().map(|((c, f, d), s)| {
            let mut v = share_json(s);
            v["customer_id"] = c.as_str().into();
            v["function"] = f.as_str().into();
            v["day"] = d.as_str().into();
            if let Some(m) = margins {
                money_json(&mut v, m.rows.get(&(c.clone(), f.clone(), d.clone())).copied().unwrap_or_default());
            }
            v
        }),
    )?;
    if let Some(m) = margins {
        let per = |key: &str, rows: BTreeMap<(&str, &str), Money>| -> Vec<serde_json::Value> {
            rows.into_iter()
                .map(|((c, when), money)| {
                    let mut v = serde_json::json!({"customer_id": c, key: when});
                    money_json(&mut v, money);
                    v
                })
                .collect()
        };
        array("customer_day_margins", &mut per("day", m.customer_days()).into_iter())?;
        array("customer_month_margins", &mut per("month", m.customer_months()).into_iter())?;
    }
    array(
        "functions",
        &mut ledger.functions.iter().map(|(f, s)| {
            serde_json::json!({"function": f, "invocations": s.invocations, "errors": s.errors,
                "cold_starts": s.cold_starts, "unmetered": s.unmetered, "cost_usd": s.cost_usd,
                "unpriced_invocations": s.unpriced, "oom_suspected": s.oom_suspected,
                "init_failures": init_failures_json(s), "p99_duration_ms": p99(s)})
        }),
    )?;
    let mut unattributed = share_json(&ledger.unattributed_total());
    let mut rest = serde_json::json!({
        "totals": {
            "invocations": ledger.functions.values().map(|f| f.invocations).sum::<u64>(),
            "estimated_cost_usd": ledger.total_cost_usd,
            "meter_records": ledger.meter_records,
            "unmetered": outcome.unmetered,
            "orphans": outcome.orphans,
            "documents_read": outcome.documents.0,
            "documents_distinct": outcome.documents.1,
        },
    });
    if let Some(m) = margins {
        money_json(&mut unattributed, m.unattributed_total());
        rest["currency"] = m.currency.clone().into();
        money_json(&mut rest["totals"], m.total());
    }
    rest["unattributed"] = unattributed;
    // `rest` is an object: splice its fields after the arrays.
    let text = rest.to_string();
    writeln!(out, "],{}", &text[1..]).map_err(w)
}

/// A function's failed init phases: `{"init": {"timeout": 2}, "invoke": {"error": 1}}`.
fn init_failures_json(s: &super::FunctionStats) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    for ((phase, status), n) in &s.init_failures {
        let per = out.entry(phase.clone()).or_insert_with(|| serde_json::json!({}));
        per[status] = (*n).into();
    }
    out.into()
}

/// Adds `revenue`, `cost`, `margin` and `margin_share` (in the price book's currency) to an object.
fn money_json(v: &mut serde_json::Value, m: Money) {
    v["revenue"] = m.revenue.into();
    v["cost"] = m.cost.into();
    v["margin"] = m.margin().into();
    v["margin_share"] = m.share().into();
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_owned() }
}

fn csv(outcome: &Outcome, out: &mut dyn Write) -> Result<(), String> {
    let ledger = &outcome.ledger;
    let meters: std::collections::BTreeSet<&str> =
        ledger.days.values().flat_map(|s| s.usage.keys().map(String::as_str)).collect();
    let margins = outcome.margins.as_ref();
    let mut header = String::from("customer_id,function,day,invocations,billed_gb_seconds,cost_usd");
    if margins.is_some() {
        header.push_str(",currency,revenue,cost,margin");
    }
    meters.iter().for_each(|m| header.push_str(&format!(",{}", csv_field(m))));
    writeln!(out, "{header}").map_err(w)?;
    let mut row = |customer: &str, function: &str, day: &str, s: &Share, money: Option<Money>| -> Result<(), String> {
        let mut line = format!(
            "{},{},{},{},{},{}",
            csv_field(customer),
            csv_field(function),
            day,
            s.invocations,
            s.billed_gb_seconds,
            s.cost_usd
        );
        if let Some(m) = margins {
            let money = money.unwrap_or_default();
            line.push_str(&format!(",{},{},{},{}", m.currency, money.revenue, money.cost, money.margin()));
        }
        for m in &meters {
            line.push_str(&format!(",{}", s.usage.get(*m).copied().unwrap_or(0.0)));
        }
        writeln!(out, "{line}").map_err(w)
    };
    let key = |a: &String, b: &String, c: &String| (a.clone(), b.clone(), c.clone());
    for ((c, f, d), s) in &ledger.days {
        row(c, f, d, s, margins.and_then(|m| m.rows.get(&key(c, f, d)).copied()))?;
    }
    for ((f, d), s) in &ledger.unattributed {
        row("(unattributed)", f, d, s, margins.and_then(|m| m.unattributed.get(&(f.clone(), d.clone())).copied()))?;
    }
    Ok(())
}

/// The customers ranked by margin, loss-makers first, with revenue, cost, margin and its share of revenue in the
/// price book's currency; then the unattributed cost and the usage without a price.
fn margin_table(
    m: &Margins,
    customers: &[(&str, Share)],
    unattributed: &Share,
    out: &mut dyn Write,
) -> Result<(), String> {
    let shares: BTreeMap<&str, &Share> = customers.iter().map(|(c, s)| (*c, s)).collect();
    let none = Share::default();
    let ranked: Vec<(&str, &Share, Money)> =
        m.ranked().into_iter().map(|(c, money)| (c, shares.get(c).copied().unwrap_or(&none), money)).collect();
    let cur = &m.currency;
    writeln!(
        out,
        "{:<24} {:>14} {:>14} {:>14} {:>9} {:>12}  usage",
        "customer",
        format!("revenue {cur}"),
        format!("cost {cur}"),
        format!("margin {cur}"),
        "margin %",
        "invocations"
    )
    .map_err(w)?;
    let none = m.unattributed_total();
    for (c, s, money) in ranked.iter().map(|(c, s, m)| (*c, *s, *m)).chain([("(unattributed)", unattributed, none)]) {
        let usage: Vec<String> = s.usage.iter().map(|(m, v)| format!("{m}={v}")).collect();
        let share = money.share().map_or_else(|| "-".to_owned(), |x| format!("{:.1}", x * 100.0));
        writeln!(
            out,
            "{:<24} {:>14.2} {:>14.2} {:>14.2} {:>9} {:>12.2}  {}",
            c,
            money.revenue,
            money.cost,
            money.margin(),
            share,
            s.invocations,
            usage.join(" ")
        )
        .map_err(w)?;
    }
    let total = m.total();
    writeln!(
        out,
        "revenue {:.2} {cur}, cost {:.2} {cur}, margin {:.2} {cur}; loss-makers: {}",
        total.revenue,
        total.cost,
        total.margin(),
        ranked.iter().filter(|(_, _, m)| m.margin() < 0.0).count()
    )
    .map_err(w)?;
    for ((c, meter), units) in &m.unpriced {
        writeln!(out, "unpriced usage (no price in the price book, never free): {c} {meter}={units}").map_err(w)?;
    }
    Ok(())
}

fn table(outcome: &Outcome, out: &mut dyn Write) -> Result<(), String> {
    let ledger = &outcome.ledger;
    writeln!(
        out,
        "{:<24} {:>12} {:>8} {:>8} {:>6} {:>10} {:>12} {:>14}",
        "function", "invocations", "errors", "cold", "oom?", "unmetered", "p99 ms", "cost USD"
    )
    .map_err(w)?;
    for (f, s) in &ledger.functions {
        writeln!(
            out,
            "{:<24} {:>12} {:>8} {:>8} {:>6} {:>10} {:>12.2} {:>14.6}",
            f,
            s.invocations,
            s.errors,
            s.cold_starts,
            s.oom_suspected,
            s.unmetered,
            p99(s).unwrap_or(0.0),
            s.cost_usd
        )
        .map_err(w)?;
    }
    writeln!(out).map_err(w)?;
    let mut customers: Vec<(&str, Share)> = ledger.customers().into_iter().collect();
    customers.sort_by(|a, b| b.1.cost_usd.total_cmp(&a.1.cost_usd));
    let unattributed = ledger.unattributed_total();
    if let Some(m) = &outcome.margins {
        margin_table(m, &customers, &unattributed, out)?;
    } else {
        writeln!(out, "{:<24} {:>14} {:>12} {:>14}  usage", "customer", "cost USD", "invocations", "GB-seconds")
            .map_err(w)?;
        for (c, s) in customers.iter().map(|(c, s)| (*c, s)).chain([("(unattributed)", &unattributed)]) {
            let usage: Vec<String> = s.usage.iter().map(|(m, v)| format!("{m}={v}")).collect();
            writeln!(
                out,
                "{:<24} {:>14.6} {:>12.2} {:>14.3}  {}",
                c,
                s.cost_usd,
                s.invocations,
                s.billed_gb_seconds,
                usage.join(" ")
            )
            .map_err(w)?;
        }
    }
    writeln!(out).map_err(w)?;
    writeln!(out, "unmetered invocations: {}", outcome.unmetered).map_err(w)?;
    let mut shown = 0;
    let mut err = Ok(());
    outcome.each_unmetered(|u| {
        if shown < 20 && err.is_ok() {
            err = writeln!(out, "  {} {} {}", u.function, u.request_id, u.timestamp).map_err(w);
            shown += 1;
        }
    })?;
    err?;
    if outcome.unmetered > 20 {
        writeln!(out, "  … {} more (--format json lists them all)", outcome.unmetered - 20).map_err(w)?;
    }
    let orphans: Vec<String> = outcome.orphans.iter().map(|(r, n)| format!("{r}={n}")).collect();
    writeln!(out, "orphan meter records: {}", if orphans.is_empty() { "0".into() } else { orphans.join(" ") })
        .map_err(w)?;
    writeln!(
        out,
        "estimated cost: {:.6} USD, of which unattributed {:.6}",
        ledger.total_cost_usd, unattributed.cost_usd
    )
    .map_err(w)?;
    let unpriced: u64 = ledger.functions.values().map(|f| f.unpriced).sum();
    if unpriced > 0 {
        writeln!(
            out,
            "{unpriced} invocations have no price and count no cost: their region is not in data/lambda-prices.json \
             (set LAMBDA_PRICE_* when processing), or they ran on Managed Instances"
        )
        .map_err(w)?;
    }
    Ok(())
}
