//! Reconciliation over a time window of the search mirror, as `logmeter reconcile --search-url … --from … --to …
//! --write` runs it and as the Lambda runs it on a schedule (an EventBridge event with a `logmeter.reconcile`
//! task): read the window's documents, and a margin around it so that invocations near an edge find their meter
//! records; join; write the results back to the mirror; and (in the Lambda) put `UnmeteredInvocations` into
//! CloudWatch through the Embedded Metric Format.
//!
//! Results are written with `index` and ids derived from what they describe and the window, so running a window
//! again replaces its documents instead of adding to them:
//! - `logmeter-cost-to-serve-%Y.%m.%d`: per customer (or `(unattributed)`), function, day and window: cost,
//!   invocations, GB-seconds, and usage per meter; with a price book, also `revenue`, `cost` and `margin` in its
//!   `currency`;
//! - `logmeter-unmetered-%Y.%m.%d`: one per unmetered invocation.

use super::{Outcome, Share};
use crate::ids::V5Prefix;
use crate::output::Parcel;
use crate::plan::{IndexNamer, iso_millis};
use chrono::{DateTime, NaiveDate};

/// Index pattern of the cost-to-serve results (by day).
pub const COST_TO_SERVE_PATTERN: &str = "logmeter-cost-to-serve-%Y.%m.%d";
/// Index pattern of the unmetered invocations (by report day).
pub const UNMETERED_PATTERN: &str = "logmeter-unmetered-%Y.%m.%d";

/// How far around a window documents are read: the longest a Lambda invocation can run.
pub const MARGIN_MS: i64 = 15 * 60 * 1000;

/// A time window `[from, to)`, epoch ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Start, inclusive.
    pub from_ms: i64,
    /// End, exclusive.
    pub to_ms: i64,
}

/// Epoch ms of `YYYY-MM-DD` (midnight UTC) or an RFC 3339 time.
pub fn parse_time(text: &str) -> Result<i64, String> {
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).map_or(0, |t| t.and_utc().timestamp_millis()));
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_millis())
        .map_err(|e| format!("{text:?} is neither YYYY-MM-DD nor an RFC 3339 time: {e}"))
}

impl Window {
    /// From `--from` / `--to` (`YYYY-MM-DD` or RFC 3339).
    pub fn parse(from: &str, to: &str) -> Result<Self, String> {
        let w = Self { from_ms: parse_time(from)?, to_ms: parse_time(to)? };
        if w.to_ms <= w.from_ms {
            return Err(format!("--to ({to}) must be after --from ({from})"));
        }
        Ok(w)
    }

    /// The last whole window of `minutes` that ended `lag_minutes` before `now_ms` (windows are aligned to the
    /// epoch, so a day is a UTC day).
    pub fn ending_before(now_ms: i64, minutes: i64, lag_minutes: i64) -> Self {
        let len = minutes.max(1) * 60_000;
        let to_ms = (now_ms - lag_minutes * 60_000).div_euclid(len) * len;
        Self { from_ms: to_ms - len, to_ms }
    }

    /// The bounds as documents write `@timestamp`, for [`super::Options::window`].
    pub fn bounds(&self) -> (String, String) {
        (iso_millis(self.from_ms), iso_millis(self.to_ms))
    }

    /// The first instant of the calendar month (UTC) the window starts in, as documents write `@timestamp`: a
    /// month's allowance and tiers count its usage from there.
    pub fn month_start(&self) -> String {
        let day = iso_millis(self.from_ms);
        format!("{}-01T00:00:00.000Z", super::margin::month(&day))
    }

    /// The range to read: the window and [`MARGIN_MS`] on each side.
    pub fn read_range(&self) -> (String, String) {
        (iso_millis(self.from_ms - MARGIN_MS), iso_millis(self.to_ms + MARGIN_MS))
    }
}

/// The result documents of a window as one bulk body of `index` actions (see the module docs).
pub fn results_body(outcome: &Outcome, window: &Window) -> Result<Parcel, String> {
    let ids = V5Prefix::new(&["reconcile-result", &window.from_ms.to_string(), &window.to_ms.to_string()]);
    let (from, to) = window.bounds();
    let mut body = Vec::new();
    let mut items = 0;
    let mut action = |index: String, id: String, doc: serde_json::Value, body: &mut Vec<u8>| {
        let line = serde_json::json!({"index": {"_index": index, "_id": id}});
        body.extend_from_slice(line.to_string().as_bytes());
        body.push(b'\n');
        body.extend_from_slice(doc.to_string().as_bytes());
        body.push(b'\n');
        items += 1;
    };
    let margins = outcome.margins.as_ref();
    let share = |customer: &str, function: &str, day: &str, s: &Share, money: Option<super::margin::Money>| {
        let mut doc = serde_json::json!({
            "@timestamp": format!("{day}T00:00:00.000Z"),
            "event": {"dataset": "logmeter.cost_to_serve"},
            "customer_id": customer, "function": function, "day": day,
            "window": {"from": from, "to": to},
            "cost_usd": s.cost_usd, "invocations": s.invocations, "billed_gb_seconds": s.billed_gb_seconds,
            "usage": s.usage,
        });
        // With a price book: what the customer's usage earned, and the margin, in the book's currency.
        if let (Some(m), Some(money)) = (margins, money) {
            doc["currency"] = m.currency.clone().into();
            doc["revenue"] = money.revenue.into();
            doc["cost"] = money.cost.into();
            doc["margin"] = money.margin().into();
        }
        doc
    };
    let ledger = &outcome.ledger;
    let key = |c: &String, f: &String, d: &String| (c.clone(), f.clone(), d.clone());
    let rows = ledger
        .days
        .iter()
        .map(|((c, f, d), s)| {
            (c.as_str(), f, d, s, margins.map(|m| m.rows.get(&key(c, f, d)).copied().unwrap_or_default()))
        })
        .chain(ledger.unattributed.iter().map(|((f, d), s)| {
            let money = margins.map(|m| m.unattributed.get(&(f.clone(), d.clone())).copied().unwrap_or_default());
            ("(unattributed)", f, d, s, money)
        }));
    let mut days = IndexNamer::new(COST_TO_SERVE_PATTERN);
    for (c, f, d, s, money) in rows {
        let id = ids.string(&[c.as_bytes(), f.as_bytes(), d.as_bytes()]);
        let index = days.name(parse_time(d)?).to_owned();
        action(index, id, share(c, f, d, s, money), &mut body);
    }
    let mut unmetered = Vec::new();
    outcome.each_unmetered(|u| unmetered.push(u))?;
    let mut report_days = IndexNamer::new(UNMETERED_PATTERN);
    for u in unmetered {
        let id = ids.string(&[b"unmetered", u.function.as_bytes(), u.log_stream.as_bytes(), u.request_id.as_bytes()]);
        let index = report_days.name(parse_time(&u.timestamp)?).to_owned();
        let mut doc = serde_json::to_value(&u).map_err(|e| e.to_string())?;
        doc["@timestamp"] = u.timestamp.clone().into();
        doc["event"] = serde_json::json!({"dataset": "logmeter.unmetered"});
        action(index, id, doc, &mut body);
    }
    Ok(Parcel { key: format!("reconcile/{}-{}", window.from_ms, window.to_ms), body, items })
}

/// The Embedded Metric Format lines of a window: `UnmeteredInvocations` in all (no dimension, for the alarm) and
/// per function (dimension `Function`), in namespace `logmeter`.
pub fn emf_lines(outcome: &Outcome, now_ms: i64) -> Vec<String> {
    let metric = |n: u64| [("UnmeteredInvocations", "Count", i64::try_from(n).unwrap_or(i64::MAX))];
    let mut out = vec![crate::telemetry::emf(now_ms, &[], &metric(outcome.unmetered))];
    for (f, s) in &outcome.ledger.functions {
        out.push(crate::telemetry::emf(now_ms, &[("Function", f)], &metric(s.unmetered)));
    }
    out
}

/// What the scheduled Lambda is asked to do (`{"logmeter": {"reconcile": {…}}}` as the event).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Task {
    /// The reconciliation to run.
    pub reconcile: ReconcileTask,
}

/// A scheduled reconciliation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct ReconcileTask {
    /// Window length, minutes (default a day).
    #[serde(default = "day")]
    pub window_minutes: i64,
    /// How long after a window ends it is reconciled, minutes (late logs; default 30).
    #[serde(default = "half_hour")]
    pub lag_minutes: i64,
    /// Functions that must meter (`--metered`).
    #[serde(default)]
    pub metered: String,
    /// Tenant to customer map (`--tenant-customers`).
    #[serde(default)]
    pub tenant_customers: String,
    /// Index pattern of the reconciliation documents.
    #[serde(default = "default_index")]
    pub index: String,
    /// Index pattern (or data stream) of the invocation documents.
    #[serde(default = "default_metrics_index")]
    pub metrics_index: String,
}

fn day() -> i64 {
    1440
}
fn half_hour() -> i64 {
    30
}
fn default_index() -> String {
    "logmeter-reconcile-*".into()
}
fn default_metrics_index() -> String {
    "logmeter-metrics-*".into()
}

/// The options `--metered` / `--tenant-customers` / `--price-book` describe.
pub fn options(
    metered: &str,
    tenant_customers: &str,
    window: Option<&Window>,
    price_book: Option<super::price_book::PriceBook>,
) -> Result<super::Options, String> {
    let mut tenants = std::collections::BTreeMap::new();
    for pair in tenant_customers.split(',').filter(|p| !p.trim().is_empty()) {
        let (t, c) = pair.split_once('=').ok_or(format!("tenant customers: {pair:?} is not tenant=customer"))?;
        tenants.insert(t.trim().to_owned(), c.trim().to_owned());
    }
    Ok(super::Options {
        metered: super::FunctionSet::parse(metered),
        tenants,
        window: window.map(Window::bounds),
        priced_from: window.filter(|_| price_book.is_some()).map(Window::month_start),
        price_book,
    })
}

/// The price book `given` names (`--price-book`), else the `PRICE_BOOK` setting's (unset or empty: none).
pub fn price_book(given: Option<&str>) -> Result<Option<super::price_book::PriceBook>, String> {
    let setting = std::env::var("PRICE_BOOK").ok();
    given.or(setting.as_deref().filter(|s| !s.is_empty())).map(read_price_book).transpose()
}

/// The price book `setting` gives (`--price-book`, `PRICE_BOOK`): the JSON itself when it starts with `{`, else
/// the path of a file holding it.
pub fn read_price_book(setting: &str) -> Result<super::price_book::PriceBook, String> {
    if setting.trim_start().starts_with('{') {
        return super::price_book::PriceBook::parse(setting).map_err(|e| e.to_string());
    }
    let text = std::fs::read_to_string(setting).map_err(|e| format!("cannot read the price book {setting}: {e}"))?;
    super::price_book::PriceBook::parse(&text).map_err(|e| format!("{setting}: {e}"))
}

/// The writer of results: the mirror at `config`, with the results' index template.
pub fn results_mirror(
    config: &crate::output::search::SearchConfig,
    http: crate::output::search::client::SearchHttp,
) -> crate::output::search::SearchMirror {
    crate::output::search::SearchMirror::new(config, http, "logmeter-metrics", None, None, None).with_template(
        "logmeter-reconcile-results",
        crate::output::search::client::reconcile_results_template(&[COST_TO_SERVE_PATTERN, UNMETERED_PATTERN]),
    )
}

/// Reads the documents of `index` and the invocation documents of `metrics_index` in the mirror (those of a window and its margins, or all) and joins them.
pub async fn reconcile_window(
    http: &crate::output::search::client::SearchHttp,
    index: &str,
    metrics_index: &str,
    options: super::Options,
    window: Option<&Window>,
) -> Result<Outcome, String> {
    let month_to_date = options.priced_from.clone();
    let mut reconciler = super::Reconciler::new(options)?;
    let range = window.map(Window::read_range);
    let range = range.as_ref().map(|(from, to)| (from.as_str(), to.as_str()));
    super::source::read_search(http, index, metrics_index, range, &mut |doc| reconciler.push(&doc)).await?;
    // With a price book, the meter records of the month before the range read above too (meter records only):
    // they place the window's usage in the month's allowance and tiers.
    if let (Some(from), Some((before, _))) = (month_to_date, range) {
        let meters = (from.as_str(), before);
        super::source::read_search_meters(http, index, meters, &mut |doc| reconciler.push(&doc)).await?;
    }
    reconciler.finish()
}

/// Runs a scheduled task: the window before `now_ms`, its results written to the mirror; returns the outcome
/// and the window.
pub async fn run(
    task: &ReconcileTask,
    mirror: &crate::output::search::SearchMirror,
    price_book: Option<&super::price_book::PriceBook>,
    now_ms: i64,
) -> Result<(Outcome, Window), String> {
    let window = Window::ending_before(now_ms, task.window_minutes, task.lag_minutes);
    let options = options(&task.metered, &task.tenant_customers, Some(&window), price_book.cloned())?;
    let outcome = reconcile_window(mirror.http(), &task.index, &task.metrics_index, options, Some(&window)).await?;
    write_results(mirror, &outcome, &window).await?;
    Ok((outcome, window))
}

/// Writes a window's results to the mirror, in bodies of at most 1,000 actions.
pub async fn write_results(
    mirror: &crate::output::search::SearchMirror,
    outcome: &Outcome,
    window: &Window,
) -> Result<usize, String> {
    use crate::output::search::SearchSink as _;
    let all = results_body(outcome, window)?;
    let pairs = crate::output::search::client::pairs(&all.body);
    let mut written = 0;
    for (i, chunk) in pairs.chunks(1_000).enumerate() {
        let body = crate::output::search::client::join(chunk);
        let parcel = Parcel { key: format!("{}-{i}", all.key), body, items: chunk.len() };
        let done = mirror.bulk(&parcel).await.map_err(|e| e.to_string())?;
        if !done.rejected.is_empty() {
            return Err(format!(
                "the mirror refused {} result documents: {}",
                done.rejected.len(),
                done.rejected[0].error
            ));
        }
        written += done.created + done.already_present;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_windows_parse_align_and_read_a_margin() {
        let w = Window::parse("2026-11-19", "2026-11-20").unwrap();
        assert_eq!(w.bounds(), ("2026-11-19T00:00:00.000Z".into(), "2026-11-20T00:00:00.000Z".into()));
        assert_eq!(w.read_range().0, "2026-11-18T23:45:00.000Z");
        let now = Window::parse("2026-11-20T00:29:00Z", "2026-11-21").unwrap().from_ms;
        // 29 minutes past midnight with a 30-minute lag: the day before yesterday is the last whole one.
        assert_eq!(Window::ending_before(now, 1440, 30).bounds().0, "2026-11-18T00:00:00.000Z");
        assert_eq!(Window::ending_before(now + 60_000, 1440, 30).bounds().0, "2026-11-19T00:00:00.000Z");
        assert!(Window::parse("2026-11-20", "2026-11-19").is_err());
        assert!(Window::parse("yesterday", "2026-11-19").is_err());
    }

    #[test]
    fn valid_tasks_read_with_defaults() {
        let t: Task = serde_json::from_str(r#"{"reconcile":{"metered":"all"}}"#).unwrap();
        assert_eq!((t.reconcile.window_minutes, t.reconcile.lag_minutes), (1440, 30));
        assert_eq!(t.reconcile.index, "logmeter-reconcile-*");
    }
}
