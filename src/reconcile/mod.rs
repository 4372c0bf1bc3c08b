//! Reconciliation and cost-to-serve: joins each invocation to the meter records it emitted, by function, log stream
//! and request id, over the reconciliation documents ([`crate::output::search::reconcile_docs`]) of a `--out` directory or of
//! the search mirror.
//!
//! The two halves of an invocation arrive in any record, batch and order, so nothing is joined while logs are
//! processed. `logmeter reconcile` reads the documents afterwards, streams them into partitions on disk by key
//! (memory stays bounded by a partition, not by the day), and joins each partition alone ([`join`]). What is read
//! twice (a retry, a replay, two routes) has the same document id and counts once.

pub mod join;
pub mod margin;
pub mod output;
pub mod price_book;
pub mod report;
pub mod scheduled;
pub mod source;

use crate::config::settings::Setting;
use crate::output::search::reconcile_docs::{JoinDoc, JoinKind};
use crate::plan::rollup::Sketch;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufWriter, Write};
use std::path::PathBuf;

/// The reconciliation's rows of the settings table (read by `logmeter reconcile`, `logmeter report` and the
/// scheduled reconciliation).
pub const SETTINGS: &[Setting] = &[Setting {
    names: r#"`PRICE_BOOK`"#,
    default: r#"none"#,
    output: "reconciliation",
    meaning: r#"the price book (a JSON file's path, or the JSON itself; see [pricing.md](pricing.md)): revenue and margin per customer in `logmeter reconcile`, `logmeter report` and the scheduled reconciliation's documents (`--price-book` overrides it)"#,
}];

/// Which functions must meter every invocation: the user's list of names and `*` patterns, or all of them when
/// the user says `all`. Empty: no invocation is called unmetered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FunctionSet {
    patterns: Vec<String>,
}

impl FunctionSet {
    /// From `a,b-*,c` or `all` (every function).
    pub fn parse(text: &str) -> Self {
        let patterns = text.split(',').map(str::trim).filter(|p| !p.is_empty()).map(str::to_owned).collect();
        Self { patterns }
    }

    /// Whether `function` must meter.
    pub fn contains(&self, function: &str) -> bool {
        self.patterns.iter().any(|p| p == "all" || glob(p, function))
    }
}

/// `*` matches any run of characters; everything else matches itself.
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, tail)) => {
            text.starts_with(head)
                && (0..=text.len() - head.len())
                    .any(|i| text.is_char_boundary(head.len() + i) && glob(tail, &text[head.len() + i..]))
        }
    }
}

/// An invocation of a metered function with no meter record.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Unmetered {
    /// Function name.
    pub function: String,
    /// Lambda request id.
    pub request_id: String,
    /// Log stream.
    pub log_stream: String,
    /// Report time.
    pub timestamp: String,
    /// Estimated cost, USD.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
}

impl Unmetered {
    fn of(inv: &JoinDoc) -> Self {
        Self {
            function: inv.function.clone(),
            request_id: inv.request_id.clone().unwrap_or_default(),
            log_stream: inv.log_stream.clone(),
            timestamp: inv.timestamp.clone(),
            cost_usd: inv.cost_usd,
        }
    }
}

/// A meter record whose invocation was not found, and why ([`join::NO_REQUEST_ID`], [`join::NO_REPORT`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Orphan {
    /// Function name.
    pub function: String,
    /// Log stream.
    pub log_stream: String,
    /// The request id its line named.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// `customerId`.
    pub customer_id: String,
    /// `meterApiName`.
    pub meter_api_name: String,
    /// `meterValue`.
    pub meter_value: f64,
    /// Why it has no invocation.
    pub reason: String,
}

impl Orphan {
    fn of(m: &JoinDoc, reason: &str) -> Self {
        Self {
            function: m.function.clone(),
            log_stream: m.log_stream.clone(),
            request_id: m.request_id.clone(),
            customer_id: m.customer_id.clone().unwrap_or_default(),
            meter_api_name: m.meter_api_name.clone().unwrap_or_default(),
            meter_value: m.meter_value.unwrap_or(0.0),
            reason: reason.into(),
        }
    }
}

/// What a customer (or nobody) was attributed: cost, invocations (shares of), GB-seconds, and usage per meter.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Share {
    /// Estimated cost, USD.
    pub cost_usd: f64,
    /// Invocations (an invocation split among n customers counts 1/n for each).
    pub invocations: f64,
    /// Billed GB-seconds.
    pub billed_gb_seconds: f64,
    /// `meterValue` summed per `meterApiName`.
    pub usage: BTreeMap<String, f64>,
}

impl Share {
    fn add(&mut self, inv: &JoinDoc, fraction: f64) {
        self.cost_usd += inv.cost_usd.unwrap_or(0.0) * fraction;
        self.invocations += fraction;
        self.billed_gb_seconds += inv.billed_gb_seconds.unwrap_or(0.0) * fraction;
    }

    fn merge(&mut self, other: &Share) {
        self.cost_usd += other.cost_usd;
        self.invocations += other.invocations;
        self.billed_gb_seconds += other.billed_gb_seconds;
        for (m, v) in &other.usage {
            *self.usage.entry(m.clone()).or_insert(0.0) += v;
        }
    }
}

/// Per function: what ran and how.
#[derive(Debug, Clone, Default)]
pub struct FunctionStats {
    /// Invocations.
    pub invocations: u64,
    /// Invocations whose status is not `success`.
    pub errors: u64,
    /// Cold starts.
    pub cold_starts: u64,
    /// Unmetered invocations.
    pub unmetered: u64,
    /// Estimated cost, USD.
    pub cost_usd: f64,
    /// Invocations without a price (no cost, never 0: a region without prices, Managed Instances).
    pub unpriced: u64,
    /// Invocations whose max memory used reached their memory size, whatever their status.
    pub oom_suspected: u64,
    /// Init phases that failed, per (phase, status): `init` or `invoke`, `error` or `timeout`.
    pub init_failures: BTreeMap<(String, String), u64>,
    /// Durations (mergeable, 1 % relative accuracy).
    pub durations: Sketch,
}

/// Everything the join adds up, bounded by customers × functions × days, not by invocations.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    /// Per (customer, function, UTC day).
    pub days: BTreeMap<(String, String, String), Share>,
    /// What no customer can be charged for, per (function, day).
    pub unattributed: BTreeMap<(String, String), Share>,
    /// Per function.
    pub functions: BTreeMap<String, FunctionStats>,
    /// Estimated cost of every invocation read, USD.
    pub total_cost_usd: f64,
    /// Meter records read.
    pub meter_records: u64,
    /// Usage as the price book prices it (per customer, month, meter and plan; per day and function).
    pub priced: margin::PricedUsage,
}

impl Ledger {
    fn usage(&mut self, m: &JoinDoc) {
        self.meter_records += 1;
        self.price(m);
        let customer = m.customer_id.clone().unwrap_or_default();
        let share = self.days.entry((customer, m.function.clone(), join::day(m).to_owned())).or_default();
        let meter = m.meter_api_name.clone().unwrap_or_default();
        *share.usage.entry(meter).or_insert(0.0) += m.meter_value.unwrap_or(0.0);
    }

    /// Adds a meter record's value to the usage the price book prices (also one of the month before a window).
    fn price(&mut self, m: &JoinDoc) {
        let day = join::day(m).to_owned();
        let key = (
            m.customer_id.clone().unwrap_or_default(),
            margin::month(&day).to_owned(),
            m.meter_api_name.clone().unwrap_or_default(),
            m.plan.clone(),
        );
        *self.priced.entry(key).or_default().entry((day, m.function.clone())).or_insert(0.0) +=
            m.meter_value.unwrap_or(0.0);
    }

    fn invocation(&mut self, inv: &JoinDoc) {
        self.total_cost_usd += inv.cost_usd.unwrap_or(0.0);
        let f = self.functions.entry(inv.function.clone()).or_default();
        f.invocations += 1;
        f.errors += u64::from(inv.status.as_deref().is_some_and(|s| s != "success"));
        f.cold_starts += u64::from(inv.cold_start == Some(true));
        f.cost_usd += inv.cost_usd.unwrap_or(0.0);
        f.unpriced += u64::from(inv.cost_usd.is_none());
        f.oom_suspected += u64::from(inv.oom_suspected == Some(true));
        if let Some(ms) = inv.duration_ms {
            f.durations.add(ms);
        }
    }

    fn init_failure(&mut self, doc: &JoinDoc) {
        let key = (doc.phase.clone().unwrap_or_default(), doc.status.clone().unwrap_or_default());
        *self.functions.entry(doc.function.clone()).or_default().init_failures.entry(key).or_insert(0) += 1;
    }

    fn unmetered(&mut self, function: &str) {
        self.functions.entry(function.to_owned()).or_default().unmetered += 1;
    }

    fn attribute(&mut self, inv: &JoinDoc, customers: &[&str]) {
        let day = join::day(inv).to_owned();
        if customers.is_empty() {
            self.unattributed.entry((inv.function.clone(), day)).or_default().add(inv, 1.0);
            return;
        }
        let fraction = 1.0 / customers.len() as f64;
        for c in customers {
            let key = ((*c).to_owned(), inv.function.clone(), day.clone());
            self.days.entry(key).or_default().add(inv, fraction);
        }
    }

    /// Per customer, over all functions and days.
    pub fn customers(&self) -> BTreeMap<&str, Share> {
        let mut out: BTreeMap<&str, Share> = BTreeMap::new();
        for ((c, _, _), s) in &self.days {
            out.entry(c.as_str()).or_default().merge(s);
        }
        out
    }

    /// What no customer can be charged for, in all.
    pub fn unattributed_total(&self) -> Share {
        let mut out = Share::default();
        self.unattributed.values().for_each(|s| out.merge(s));
        out
    }
}

/// What to reconcile and how.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Functions that must meter every invocation (`--metered`).
    pub metered: FunctionSet,
    /// Tenant id → customer id (`--tenant-customers`).
    pub tenants: BTreeMap<String, String>,
    /// Only what lies in `[from, to)` counts (ISO 8601 with milliseconds, as documents write `@timestamp`).
    pub window: Option<(String, String)>,
    /// The price book (`--price-book`, `PRICE_BOOK`): revenue and margin are figured when there is one.
    pub price_book: Option<price_book::PriceBook>,
    /// With a window and a price book: the month's first instant. Meter records from it to the window place the
    /// window's usage in the month's allowance and tiers, and count nowhere else.
    pub priced_from: Option<String>,
}

/// Partitions on disk: documents are spread by key, so that each partition joins alone.
const PARTITIONS: usize = 128;

/// Reads reconciliation documents in any order, then joins them.
pub struct Reconciler {
    dir: PathBuf,
    parts: Vec<BufWriter<std::fs::File>>,
    options: Options,
    /// Documents read (before de-duplication).
    pub read: u64,
}

/// The join's results: the ledger in memory, unmetered invocations and orphans on disk (they can be many).
pub struct Outcome {
    dir: PathBuf,
    /// The sums.
    pub ledger: Ledger,
    /// Unmetered invocations found.
    pub unmetered: u64,
    /// Orphan meter records, by reason.
    pub orphans: BTreeMap<String, u64>,
    /// Documents read, and distinct documents among them.
    pub documents: (u64, u64),
    /// Revenue and margin, with a price book.
    pub margins: Option<margin::Margins>,
}

fn io(e: std::io::Error, what: &str) -> String {
    format!("{what}: {e}")
}

fn key(doc: &JoinDoc) -> String {
    format!("{}\u{0}{}\u{0}{}", doc.function, doc.log_stream, doc.request_id.as_deref().unwrap_or(""))
}

impl Reconciler {
    /// A reconciler spilling to a fresh folder under the system's temporary directory.
    pub fn new(options: Options) -> Result<Self, String> {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("logmeter-reconcile-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| io(e, "cannot create the work folder"))?;
        let parts = (0..PARTITIONS)
            .map(|i| std::fs::File::create(dir.join(format!("part-{i}.jsonl"))).map(BufWriter::new))
            .collect::<Result<_, _>>()
            .map_err(|e| io(e, "cannot create a partition"))?;
        Ok(Self { dir, parts, options, read: 0 })
    }

    /// Adds one document.
    pub fn push(&mut self, doc: &JoinDoc) -> Result<(), String> {
        self.read += 1;
        let part = crc32fast::hash(key(doc).as_bytes()) as usize % PARTITIONS;
        let w = &mut self.parts[part];
        serde_json::to_writer(&mut *w, doc).map_err(|e| e.to_string())?;
        w.write_all(b"\n").map_err(|e| io(e, "cannot write a partition"))
    }

    /// Joins every partition.
    pub fn finish(mut self) -> Result<Outcome, String> {
        for w in &mut self.parts {
            w.flush().map_err(|e| io(e, "cannot write a partition"))?;
        }
        self.parts.clear();
        let mut outcome = Outcome {
            dir: self.dir.clone(),
            ledger: Ledger::default(),
            unmetered: 0,
            orphans: BTreeMap::new(),
            documents: (self.read, 0),
            margins: None,
        };
        let create = |name: &str| {
            std::fs::File::create(self.dir.join(name)).map(BufWriter::new).map_err(|e| io(e, "cannot spill"))
        };
        let (mut unmetered_out, mut orphans_out) = (create("unmetered.jsonl")?, create("orphans.jsonl")?);
        for i in 0..PARTITIONS {
            let path = self.dir.join(format!("part-{i}.jsonl"));
            let file = std::fs::File::open(&path).map_err(|e| io(e, "cannot read a partition"))?;
            let mut groups: BTreeMap<String, (Vec<JoinDoc>, Vec<JoinDoc>)> = BTreeMap::new();
            let mut seen = BTreeSet::new();
            for line in std::io::BufReader::new(file).lines() {
                let line = line.map_err(|e| io(e, "cannot read a partition"))?;
                let doc: JoinDoc = serde_json::from_str(&line).map_err(|e| e.to_string())?;
                if !seen.insert(doc.join_id.clone()) {
                    continue;
                }
                if doc.kind == JoinKind::Init {
                    if join::in_window(&self.options, &doc) {
                        outcome.ledger.init_failure(&doc);
                    }
                    continue;
                }
                let group = groups.entry(key(&doc)).or_default();
                if doc.kind == JoinKind::Invocation { group.0.push(doc) } else { group.1.push(doc) }
            }
            outcome.documents.1 += seen.len() as u64;
            for (invocations, meters) in groups.values() {
                let (u, o) = join::reconcile_key(invocations, meters, &self.options, &mut outcome.ledger);
                outcome.unmetered += u.len() as u64;
                for x in &u {
                    serde_json::to_writer(&mut unmetered_out, x).map_err(|e| e.to_string())?;
                    unmetered_out.write_all(b"\n").map_err(|e| io(e, "cannot spill"))?;
                }
                for x in &o {
                    *outcome.orphans.entry(x.reason.clone()).or_insert(0) += 1;
                    serde_json::to_writer(&mut orphans_out, x).map_err(|e| e.to_string())?;
                    orphans_out.write_all(b"\n").map_err(|e| io(e, "cannot spill"))?;
                }
            }
            let _ = std::fs::remove_file(&path);
        }
        unmetered_out.flush().map_err(|e| io(e, "cannot spill"))?;
        orphans_out.flush().map_err(|e| io(e, "cannot spill"))?;
        let first_day = self.options.window.as_ref().map(|(from, _)| from.get(..10).unwrap_or(from).to_owned());
        outcome.margins =
            self.options.price_book.as_ref().map(|b| margin::Margins::of(&outcome.ledger, b, first_day.as_deref()));
        Ok(outcome)
    }
}

impl Drop for Reconciler {
    fn drop(&mut self) {
        if !self.parts.is_empty() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl Outcome {
    fn each<T: serde::de::DeserializeOwned>(&self, name: &str, mut f: impl FnMut(T)) -> Result<(), String> {
        let file = std::fs::File::open(self.dir.join(name)).map_err(|e| io(e, "cannot read the results"))?;
        for line in std::io::BufReader::new(file).lines() {
            let line = line.map_err(|e| io(e, "cannot read the results"))?;
            f(serde_json::from_str(&line).map_err(|e| e.to_string())?);
        }
        Ok(())
    }

    /// Calls `f` with each unmetered invocation, streamed from disk.
    pub fn each_unmetered(&self, f: impl FnMut(Unmetered)) -> Result<(), String> {
        self.each("unmetered.jsonl", f)
    }

    /// Calls `f` with each orphan meter record, streamed from disk.
    pub fn each_orphan(&self, f: impl FnMut(Orphan)) -> Result<(), String> {
        self.each("orphans.jsonl", f)
    }
}

impl Drop for Outcome {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(kind: &str, id: &str, function: &str, request: Option<&str>) -> JoinDoc {
        JoinDoc {
            timestamp: "2026-11-20T10:00:00.000Z".into(),
            kind: if kind == "invocation" { JoinKind::Invocation } else { JoinKind::Meter },
            join_id: id.into(),
            function: function.into(),
            version: "$LATEST".into(),
            log_stream: "s".into(),
            request_id: request.map(str::to_owned),
            tenant_id: None,
            status: Some("success".into()),
            cold_start: Some(false),
            duration_ms: Some(10.0),
            billed_gb_seconds: Some(0.5),
            cost_usd: (kind == "invocation").then_some(0.3),
            customer_id: (kind == "meter").then(|| format!("c-{id}")),
            meter_api_name: (kind == "meter").then(|| "api-calls".into()),
            meter_value: (kind == "meter").then_some(2.0),
            plan: None,
            oom_suspected: None,
            phase: None,
        }
    }

    #[test]
    fn valid_join_finds_unmetered_orphans_and_splits_cost_equally() {
        let options = Options { metered: FunctionSet::parse("api,worker-*"), ..Options::default() };
        let mut r = Reconciler::new(options).unwrap();
        let docs = [
            doc("invocation", "i1", "api", Some("r1")),
            doc("meter", "a", "api", Some("r1")),
            doc("meter", "b", "api", Some("r1")),
            doc("invocation", "i2", "api", Some("r2")),
            doc("invocation", "i3", "other", Some("r3")),
            doc("meter", "c", "api", Some("r9")),
            doc("meter", "d", "api", None),
            // Read twice (a replay): counted once.
            doc("invocation", "i2", "api", Some("r2")),
        ];
        docs.iter().for_each(|d| r.push(d).unwrap());
        let out = r.finish().unwrap();
        let mut unmetered = Vec::new();
        out.each_unmetered(|u| unmetered.push(u.request_id)).unwrap();
        assert_eq!(unmetered, ["r2"], "`other` is not metered; r1 metered");
        assert_eq!(out.orphans, BTreeMap::from([(join::NO_REPORT.into(), 1), (join::NO_REQUEST_ID.into(), 1)]));
        let customers = out.ledger.customers();
        assert!((customers["c-a"].cost_usd - 0.15).abs() < 1e-12 && (customers["c-b"].invocations - 0.5).abs() < 1e-12);
        let unattributed = out.ledger.unattributed_total();
        let attributed: f64 = customers.values().map(|s| s.cost_usd).sum();
        assert!((attributed + unattributed.cost_usd - out.ledger.total_cost_usd).abs() < 1e-12);
        assert!((out.ledger.total_cost_usd - 0.9).abs() < 1e-12, "three distinct invocations");
        assert_eq!(customers["c-c"].usage["api-calls"], 2.0, "orphans' usage is still usage");
        assert_eq!(out.documents, (8, 7));
    }

    #[test]
    fn valid_tenant_isolated_invocations_bill_their_tenants_customer_and_windows_count_only_their_own() {
        let tenants = BTreeMap::from([("t1".to_owned(), "acme".to_owned())]);
        let options = Options {
            metered: FunctionSet::parse("all"),
            tenants,
            window: Some(("2026-11-20T00:00:00.000Z".into(), "2026-11-21T00:00:00.000Z".into())),
            ..Options::default()
        };
        let mut r = Reconciler::new(options).unwrap();
        let mut mapped = doc("invocation", "i1", "api", Some("r1"));
        mapped.tenant_id = Some("t1".into());
        mapped.timestamp = "2026-11-20T00:00:01.000Z".into();
        let mut own = doc("invocation", "i2", "api", Some("r2"));
        own.tenant_id = Some("t2".into());
        own.timestamp = "2026-11-20T12:00:00.000Z".into();
        // Just before the window: read for the join (r1's meter), never counted.
        let mut before = doc("meter", "a", "api", Some("r1"));
        before.timestamp = "2026-11-19T23:59:59.000Z".into();
        let mut outside = doc("invocation", "i3", "api", Some("r3"));
        outside.timestamp = "2026-11-21T00:00:00.000Z".into();
        [mapped, own, before, outside].iter().for_each(|d| r.push(d).unwrap());
        let out = r.finish().unwrap();
        let customers = out.ledger.customers();
        assert_eq!(
            customers.keys().copied().collect::<Vec<_>>(),
            ["acme", "t2"],
            "the meter before the window is not usage"
        );
        assert!((customers["acme"].cost_usd - 0.3).abs() < 1e-12, "the tenant's customer, not the meter's");
        assert_eq!(out.unmetered, 1, "r2 did not meter; r1 did, just before the window");
        assert_eq!(out.ledger.functions["api"].invocations, 2, "r3 lies outside the window");
    }

    #[test]
    fn valid_function_sets_match_names_patterns_and_all() {
        let set = FunctionSet::parse("checkout-*, ledger-sync");
        assert!(set.contains("checkout-api") && set.contains("ledger-sync") && !set.contains("image-resizer"));
        assert!(FunctionSet::parse("all").contains("anything"));
        assert!(!FunctionSet::default().contains("anything"), "nothing is metered unless the user says so");
        assert!(glob("*-api*", "checkout-api-v2") && !glob("a*b", "ac"));
    }
}
