//! `logmeter report`: one self-contained HTML page (no network, no script, charts as inline SVG) over a
//! reconciliation: usage per customer and meter per day, cost-to-serve per customer against usage, unmetered
//! invocations per function with their request ids, and invocations, errors, cold starts and p99 per function.
//! It fits a laptop screen and prints cleanly (`@media print`).

use super::margin::{Margins, Money};
use super::{Outcome, Share};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Request ids listed per function (the rest are counted).
const IDS_SHOWN: usize = 50;
/// Customers in the usage table and the cost chart.
const CUSTOMERS_SHOWN: usize = 25;

/// A usage figure for people: at most three decimals, no trailing zeros.
fn num(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A horizontal bar chart: one bar per `(label, value, text)`, scaled to the largest value.
fn bars(title: &str, rows: &[(String, f64, String)]) -> String {
    let (row_h, label_w, bar_w) = (22.0, 190.0, 520.0);
    let max = rows.iter().map(|r| r.1).fold(0.0, f64::max);
    let height = rows.len() as f64 * row_h + 8.0;
    let mut svg = format!(
        "<svg role=\"img\" aria-label=\"{}\" viewBox=\"0 0 {} {height}\" width=\"100%\" preserveAspectRatio=\"xMinYMin meet\">",
        esc(title),
        label_w + bar_w + 140.0
    );
    for (i, (label, value, text)) in rows.iter().enumerate() {
        let y = i as f64 * row_h + 4.0;
        let w = if max > 0.0 { (value / max * bar_w).max(1.0) } else { 1.0 };
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" class=\"l\">{}</text><rect x=\"{label_w}\" y=\"{y}\" width=\"{w:.1}\" height=\"{}\" class=\"b\"/><text x=\"{}\" y=\"{}\" class=\"v\">{}</text>",
            label_w - 6.0,
            y + 15.0,
            esc(label),
            row_h - 6.0,
            label_w + w + 6.0,
            y + 15.0,
            esc(text)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A small line chart of `values` over the days (one point per day, scaled to their own range, with the zero line
/// when the range crosses it), labelled with its last value.
fn spark(title: &str, values: &[f64], last: &str, class: &str) -> String {
    let (w, h, pad) = (96.0, 30.0, 3.0);
    let lo = values.iter().copied().fold(0.0_f64, f64::min);
    let hi = values.iter().copied().fold(0.0_f64, f64::max);
    let span = if hi > lo { hi - lo } else { 1.0 };
    let x = |i: usize| {
        if values.len() > 1 { pad + i as f64 * (w - 2.0 * pad) / (values.len() - 1) as f64 } else { w / 2.0 }
    };
    let y = |v: f64| pad + (hi - v) / span * (h - 2.0 * pad);
    let points: Vec<String> = values.iter().enumerate().map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v))).collect();
    let mut svg = format!(
        "<svg class=\"spark {class}\" role=\"img\" aria-label=\"{}\" viewBox=\"0 0 {} {h}\" width=\"{}\" height=\"{h}\">",
        esc(title),
        w + 62.0,
        w + 62.0
    );
    if lo < 0.0 && hi > 0.0 {
        let _ = write!(svg, "<line x1=\"0\" x2=\"{w}\" y1=\"{0:.1}\" y2=\"{0:.1}\" class=\"z\"/>", y(0.0));
    }
    let _ = write!(svg, "<polyline points=\"{}\"/>", points.join(" "));
    for p in &points {
        let (px, py) = p.split_once(',').unwrap_or(("0", "0"));
        let _ = write!(svg, "<circle cx=\"{px}\" cy=\"{py}\" r=\"2\"/>");
    }
    let _ = write!(svg, "<text x=\"{}\" y=\"{}\" class=\"v\">{}</text></svg>", w + 4.0, h / 2.0 + 4.0, esc(last));
    svg
}

/// An amount of money for people: to the cent, and below a cent to its first two significant digits (a customer
/// who costs a hundredth of a cent a day still shows what it costs).
fn amount(v: f64) -> String {
    if v == 0.0 || v.abs() >= 0.01 || !v.is_finite() {
        return format!("{v:.2}");
    }
    let decimals = ((-v.abs().log10()).ceil() as usize + 1).min(9);
    format!("{v:.decimals$}")
}

/// An amount and its currency.
fn money(v: f64, currency: &str) -> String {
    format!("{} {currency}", amount(v))
}

/// The margin section: customers ranked by margin, loss-makers first, each with its usage, cost and margin over the
/// days as small line charts; then the functions that serve each loss-maker.
fn margin_section(outcome: &Outcome, m: &Margins, days: &std::collections::BTreeSet<&str>, page: &mut String) {
    let ledger = &outcome.ledger;
    let cur = m.currency.as_str();
    let per_day = m.customer_days();
    let mut usage_per_day: BTreeMap<(&str, &str), f64> = BTreeMap::new();
    for ((c, _, d), s) in &ledger.days {
        *usage_per_day.entry((c.as_str(), d.as_str())).or_default() += s.usage.values().sum::<f64>();
    }
    let ranked = m.ranked();
    let losing: Vec<&(&str, Money)> = ranked.iter().filter(|(_, m)| m.margin() < 0.0).collect();
    let total = m.total();
    let _ = write!(
        page,
        "<h2>Margin per customer</h2><div class=\"cards\">\
         <div class=\"card\">revenue<b>{}</b></div><div class=\"card\">cost to serve<b>{}</b></div>\
         <div class=\"card\">margin<b>{}</b></div><div class=\"card\">loss-makers<b>{}</b></div></div>\
         <p class=\"note\">Customers ranked by margin, the loss-makers first ({} of {} shown). Revenue is usage at the \
         price book; cost is the cost to serve; margin is revenue minus cost, in {cur}. Each chart runs over the days \
         {}.</p><table class=\"margin\"><tr><th>customer</th><th>revenue</th><th>cost</th><th>margin</th><th>margin %</th>\
         <th>usage per day</th><th>cost per day</th><th>margin per day</th></tr>",
        money(total.revenue, cur),
        money(total.cost, cur),
        money(total.margin(), cur),
        losing.len(),
        ranked.len().min(CUSTOMERS_SHOWN),
        ranked.len(),
        days.iter().next().map_or(String::new(), |first| format!("{first} to {}", days.iter().last().unwrap_or(first))),
    );
    for (c, money_c) in ranked.iter().take(CUSTOMERS_SHOWN) {
        let series = |f: &dyn Fn(&str) -> f64| -> Vec<f64> { days.iter().map(|d| f(d)).collect() };
        let usage = series(&|d| usage_per_day.get(&(*c, d)).copied().unwrap_or(0.0));
        let cost = series(&|d| per_day.get(&(*c, d)).map_or(0.0, |m| m.cost));
        let margin = series(&|d| per_day.get(&(*c, d)).map_or(0.0, Money::margin));
        let class = if money_c.margin() < 0.0 { " class=\"loss\"" } else { "" };
        let _ = write!(
            page,
            "<tr{class}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(c),
            amount(money_c.revenue),
            amount(money_c.cost),
            amount(money_c.margin()),
            money_c.share().map_or_else(|| "–".to_owned(), |s| format!("{:.1}", s * 100.0)),
            spark(&format!("{c}: usage per day"), &usage, &num(usage.iter().sum()), "u"),
            spark(&format!("{c}: cost per day"), &cost, &amount(money_c.cost), "c"),
            spark(&format!("{c}: margin per day"), &margin, &amount(money_c.margin()), "m"),
        );
    }
    page.push_str("</table>");
    let unattributed = m.unattributed_total();
    let _ = write!(
        page,
        "<p class=\"note\">Unattributed cost (invocations that metered no customer): {}.</p>",
        money(unattributed.cost, cur)
    );
    if !m.unpriced.is_empty() {
        page.push_str("<p class=\"note\">Usage without a price in the price book (never counted as free): ");
        let list: Vec<String> =
            m.unpriced.iter().map(|((c, meter), u)| format!("{} {}={}", esc(c), esc(meter), num(*u))).collect();
        page.push_str(&list.join(", "));
        page.push_str(".</p>");
    }
    if losing.is_empty() {
        return;
    }
    page.push_str("<h2>Functions that serve the loss-makers</h2><table class=\"t2\"><tr><th>customer</th><th>function</th><th>revenue</th><th>cost</th><th>margin</th></tr>");
    for (c, _) in losing.iter().take(CUSTOMERS_SHOWN) {
        let mut functions: Vec<(&str, Money)> = m.functions_of(c).into_iter().collect();
        functions.sort_by(|a, b| b.1.cost.total_cmp(&a.1.cost).then(a.0.cmp(b.0)));
        for (f, fm) in functions {
            let _ = write!(
                page,
                "<tr class=\"loss\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(c),
                esc(f),
                amount(fm.revenue),
                amount(fm.cost),
                amount(fm.margin())
            );
        }
    }
    page.push_str("</table>");
}

const STYLE: &str = "body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#1b1f24;margin:0 auto;max-width:1100px;padding:24px}\
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #d0d7de;padding-bottom:4px}\
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}.card{border:1px solid #d0d7de;border-radius:6px;padding:10px 14px;min-width:150px}\
.card b{display:block;font-size:20px}table{border-collapse:collapse;width:100%;margin:8px 0}th,td{border-bottom:1px solid #eaeef2;padding:4px 8px;text-align:right}\
th:first-child,td:first-child,.t2 th:nth-child(2),.t2 td:nth-child(2){text-align:left}th{background:#f6f8fa}.ids{font:12px ui-monospace,monospace;columns:2;word-break:break-all}\
svg .l{font-size:12px;fill:#1b1f24}svg .v{font-size:12px;fill:#57606a}svg .b{fill:#2f81f7}svg.warn .b{fill:#cf222e}.note{color:#57606a}\
.spark polyline{fill:none;stroke-width:1.5}.spark.u polyline{stroke:#2f81f7}.spark.u circle{fill:#2f81f7}\
.spark.c polyline{stroke:#9a6700}.spark.c circle{fill:#9a6700}.spark.m polyline{stroke:#1a7f37}.spark.m circle{fill:#1a7f37}\
.spark .z{stroke:#afb8c1;stroke-dasharray:2 2}tr.loss td:first-child{color:#cf222e;font-weight:600}table.margin td{vertical-align:middle}\
@media print{body{max-width:none;padding:0}h2{break-after:avoid}table,svg,tr{break-inside:avoid}.ids{columns:3}table.margin{font-size:11px}}";

/// The page for `outcome`; `title` names the source.
pub fn html(outcome: &Outcome, title: &str) -> Result<String, String> {
    let ledger = &outcome.ledger;
    let customers = ledger.customers();
    let unattributed = ledger.unattributed_total();
    let invocations: u64 = ledger.functions.values().map(|f| f.invocations).sum();
    let days: std::collections::BTreeSet<&str> = ledger.days.keys().map(|(_, _, d)| d.as_str()).collect();
    let mut page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>logmeter report — {}</title><style>{STYLE}</style></head><body>",
        esc(title)
    );
    let _ = write!(
        page,
        "<h1>logmeter report</h1><p class=\"note\">{} · {}</p><div class=\"cards\">\
         <div class=\"card\">invocations<b>{invocations}</b></div>\
         <div class=\"card\">estimated cost<b>{:.6} USD</b></div>\
         <div class=\"card\">unattributed cost<b>{:.6} USD</b></div>\
         <div class=\"card\">unmetered invocations<b>{}</b></div>\
         <div class=\"card\">orphan meter records<b>{}</b></div>\
         <div class=\"card\">meter records<b>{}</b></div></div>",
        esc(title),
        days.iter().next().map_or(String::new(), |first| format!("{first} to {}", days.iter().last().unwrap_or(first))),
        ledger.total_cost_usd,
        unattributed.cost_usd,
        outcome.unmetered,
        outcome.orphans.values().sum::<u64>(),
        ledger.meter_records,
    );

    if let Some(m) = &outcome.margins {
        margin_section(outcome, m, &days, &mut page);
    }

    // Usage per customer and meter per day.
    let mut usage: BTreeMap<(&str, &str), BTreeMap<&str, f64>> = BTreeMap::new();
    let mut per_meter_day: BTreeMap<(&str, &str), f64> = BTreeMap::new();
    for ((c, _, d), s) in &ledger.days {
        for (m, v) in &s.usage {
            *usage.entry((c.as_str(), m.as_str())).or_default().entry(d.as_str()).or_insert(0.0) += v;
            *per_meter_day.entry((d.as_str(), m.as_str())).or_insert(0.0) += v;
        }
    }
    page.push_str("<h2>Usage per meter and day</h2>");
    let rows: Vec<(String, f64, String)> =
        per_meter_day.iter().map(|((d, m), v)| (format!("{d} {m}"), *v, num(*v))).collect();
    page.push_str(&bars("usage per meter and day", &rows));
    let mut by_usage: Vec<(&str, f64)> = customers.iter().map(|(c, s)| (*c, s.usage.values().sum::<f64>())).collect();
    by_usage.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
    let _ = write!(
        page,
        "<h2>Usage per customer and meter per day</h2><p class=\"note\">The {} customers with the most usage (of {}).</p><table class=\"t2\"><tr><th>customer</th><th>meter</th>",
        by_usage.len().min(CUSTOMERS_SHOWN),
        by_usage.len()
    );
    days.iter().for_each(|d| {
        let _ = write!(page, "<th>{d}</th>");
    });
    page.push_str("</tr>");
    for (c, _) in by_usage.iter().take(CUSTOMERS_SHOWN) {
        for ((_, m), per_day) in usage.range((*c, "")..).take_while(|((cc, _), _)| cc == c) {
            let _ = write!(page, "<tr><td>{}</td><td>{}</td>", esc(c), esc(m));
            days.iter().for_each(|d| {
                let _ = write!(page, "<td>{}</td>", per_day.get(d).map_or(String::new(), |v| num(*v)));
            });
            page.push_str("</tr>");
        }
    }
    page.push_str("</table>");

    // Cost-to-serve against usage.
    let mut by_cost: Vec<(&str, &Share)> = customers.iter().map(|(c, s)| (*c, s)).collect();
    by_cost.sort_by(|a, b| b.1.cost_usd.total_cmp(&a.1.cost_usd).then(a.0.cmp(b.0)));
    page.push_str("<h2>Cost to serve per customer</h2>");
    let rows: Vec<(String, f64, String)> = by_cost
        .iter()
        .take(CUSTOMERS_SHOWN)
        .map(|(c, s)| ((*c).to_owned(), s.cost_usd, format!("{:.6} USD", s.cost_usd)))
        .chain([("(unattributed)".to_owned(), unattributed.cost_usd, format!("{:.6} USD", unattributed.cost_usd))])
        .collect();
    page.push_str(&bars("cost to serve per customer", &rows));
    let mut per_unit: Vec<(&str, &Share, f64)> =
        by_cost.iter().map(|(c, s)| (*c, *s, s.usage.values().sum::<f64>())).filter(|(_, _, u)| *u > 0.0).collect();
    per_unit.sort_by(|a, b| (b.1.cost_usd / b.2).total_cmp(&(a.1.cost_usd / a.2)).then(a.0.cmp(b.0)));
    page.push_str("<p class=\"note\">Customers who cost most per unit billed (all meters' values added up).</p><table><tr><th>customer</th><th>cost USD</th><th>usage</th><th>cost per unit USD</th><th>invocations</th><th>GB-seconds</th></tr>");
    for (c, s, u) in per_unit.iter().take(CUSTOMERS_SHOWN) {
        let _ = write!(
            page,
            "<tr><td>{}</td><td>{:.6}</td><td>{}</td><td>{:.9}</td><td>{:.2}</td><td>{:.3}</td></tr>",
            esc(c),
            s.cost_usd,
            num(*u),
            s.cost_usd / u,
            s.invocations,
            s.billed_gb_seconds
        );
    }
    page.push_str("</table>");

    // Unmetered invocations.
    page.push_str("<h2>Unmetered invocations per function</h2>");
    let rows: Vec<(String, f64, String)> = ledger
        .functions
        .iter()
        .map(|(f, s)| (f.clone(), s.unmetered as f64, format!("{} of {}", s.unmetered, s.invocations)))
        .collect();
    page.push_str(&bars("unmetered invocations per function", &rows).replacen("<svg", "<svg class=\"warn\"", 1));
    let mut ids: BTreeMap<String, (Vec<String>, u64)> = BTreeMap::new();
    outcome.each_unmetered(|u| {
        let e = ids.entry(u.function).or_default();
        e.1 += 1;
        if e.0.len() < IDS_SHOWN {
            e.0.push(u.request_id);
        }
    })?;
    for (f, (shown, n)) in &ids {
        let _ = write!(page, "<h3>{} — {n} unmetered</h3><div class=\"ids\">", esc(f));
        shown.iter().for_each(|id| {
            let _ = write!(page, "<div>{}</div>", esc(id));
        });
        if *n > shown.len() as u64 {
            let _ = write!(page, "<div>… {} more</div>", *n - shown.len() as u64);
        }
        page.push_str("</div>");
    }

    // Per function.
    page.push_str("<h2>Invocations per function</h2>");
    let rows: Vec<(String, f64, String)> =
        ledger.functions.iter().map(|(f, s)| (f.clone(), s.invocations as f64, s.invocations.to_string())).collect();
    page.push_str(&bars("invocations per function", &rows));
    page.push_str("<table><tr><th>function</th><th>invocations</th><th>errors</th><th>cold starts</th><th>out of memory?</th><th>init failures</th><th>p99 duration ms</th><th>cost USD</th></tr>");
    for (f, s) in &ledger.functions {
        let init: Vec<String> = s.init_failures.iter().map(|((p, st), n)| format!("{p} {st}: {n}")).collect();
        let _ = write!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"oom\">{}</td><td class=\"init\">{}</td><td>{}</td><td>{:.6}</td></tr>",
            esc(f),
            s.invocations,
            s.errors,
            s.cold_starts,
            s.oom_suspected,
            esc(&init.join(", ")),
            s.durations.quantile(0.99).map_or(String::new(), |v| format!("{v:.2}")),
            s.cost_usd
        );
    }
    let unpriced: u64 = ledger.functions.values().map(|f| f.unpriced).sum();
    page.push_str("</table><p class=\"note\">Out of memory?: invocations whose max memory used reached their memory size, whatever their status (Lambda can report one that ran out of memory as a timeout). Init failures: INIT_REPORT phases that did not succeed, by phase (init, or invoke for the init Lambda runs again with the first invocation) and status.</p>");
    if unpriced > 0 {
        let _ = write!(
            page,
            "<p class=\"note\">{unpriced} invocations have no price and count no cost: their region is not in the price table (set LAMBDA_PRICE_* when processing), or they ran on Managed Instances.</p>"
        );
    }
    page.push_str("<p class=\"note\">Costs are estimates at list prices (see docs/schema.md, the cost model). An invocation that metered several customers is split equally among them; a tenant-isolated function bills its tenant.</p></body></html>\n");
    Ok(page)
}
