//! Rollup documents: per function, version, memory size and architecture, per time window, what the invocation
//! reports of one Kinesis record add up to (`event.dataset: aws.lambda.rollup`), and its init failures.
//!
//! A window's invocations arrive in many records, shards and batches, so each record writes its own partial rollup
//! of each window, with an id derived from the record (shard and sequence number) and the group: a retry or a
//! replay of the record re-creates the same documents, which `create` refuses (409), and never counts an
//! invocation twice. Queries sum the partial rollups: `sum` of `aws.lambda.invocations`, `cold_starts`,
//! `billed_gb_seconds`, `estimated_cost_usd` and the other sums, `min` / `max` of the minima and maxima, and
//! percentiles by merging the duration sketches ([`Sketch`]).

use super::RecordValues;
use crate::cost::{Architectures, Billed, Prices, Unpriced};
use crate::extract::{LABELS, ReportStatus, function_of};
use std::collections::BTreeMap;

/// Relative accuracy of the duration sketch: a percentile read from it is within 1 % of the true value at that
/// rank.
pub const SKETCH_ACCURACY: f64 = 0.01;

/// The smallest duration the sketch tells apart, ms (one microsecond); shorter ones count as this.
const SKETCH_MIN_MS: f64 = 0.001;

/// A mergeable histogram of durations with logarithmic buckets (the DDSketch scheme): bucket `i` holds the values in
/// `(γ^(i-1), γ^i]`, with `γ = (1 + α) / (1 − α)` and `α` = [`SKETCH_ACCURACY`]. Merging adds counts bucket by
/// bucket, so partial rollups merge exactly, and a quantile is answered with a relative error of at most `α`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sketch {
    /// Count per bucket index.
    pub buckets: BTreeMap<i32, u64>,
}

fn gamma() -> f64 {
    (1.0 + SKETCH_ACCURACY) / (1.0 - SKETCH_ACCURACY)
}

impl Sketch {
    /// Counts one value (ms).
    pub fn add(&mut self, ms: f64) {
        let index = (ms.max(SKETCH_MIN_MS).ln() / gamma().ln()).ceil() as i32;
        *self.buckets.entry(index).or_insert(0) += 1;
    }

    /// Adds `other`'s counts.
    pub fn merge(&mut self, other: &Sketch) {
        for (i, n) in &other.buckets {
            *self.buckets.entry(*i).or_insert(0) += n;
        }
    }

    /// Values counted.
    pub fn count(&self) -> u64 {
        self.buckets.values().sum()
    }

    /// The value at quantile `q` (0–1): the one at rank `⌊q × (n − 1)⌋` in sorted order, within [`SKETCH_ACCURACY`].
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        let rank = (q.clamp(0.0, 1.0) * (n - 1) as f64).floor() as u64;
        let mut seen = 0;
        for (i, c) in &self.buckets {
            seen += c;
            if seen > rank {
                return Some(2.0 * gamma().powi(*i) / (gamma() + 1.0));
            }
        }
        None
    }

    /// The sketch as documents carry it: `{"relative_accuracy", "index": [...], "count": [...]}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self.doc()).unwrap_or_default()
    }

    pub(crate) fn doc(&self) -> SketchDoc {
        SketchDoc {
            relative_accuracy: SKETCH_ACCURACY,
            index: self.buckets.keys().copied().collect(),
            count: self.buckets.values().copied().collect(),
        }
    }

    /// A sketch read back from [`Sketch::to_json`]'s shape.
    pub fn from_json(v: &serde_json::Value) -> Option<Self> {
        let index = v.get("index")?.as_array()?;
        let count = v.get("count")?.as_array()?;
        let buckets: Option<BTreeMap<i32, u64>> =
            index.iter().zip(count).map(|(i, c)| Some((i32::try_from(i.as_i64()?).ok()?, c.as_u64()?))).collect();
        Some(Self { buckets: buckets? })
    }
}

#[derive(serde::Serialize)]
pub(crate) struct SketchDoc {
    relative_accuracy: f64,
    index: Vec<i32>,
    count: Vec<u64>,
}

/// What rollups need from the configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct RollupSettings {
    /// Window length, ms (`ROLLUP_WINDOW_SECONDS`).
    pub window_ms: i64,
    /// Each function's architecture (`FUNCTION_ARCHITECTURES`).
    pub architectures: Architectures,
    /// Prices (`data/lambda-prices.json`, `LAMBDA_PRICE_*`).
    pub prices: Prices,
    /// Whether groups are per tenant too (`ROLLUP_BY_TENANT`; tenant ids can be many).
    pub by_tenant: bool,
}

/// One-minute windows, no tenant grouping, every function `x86_64`, the committed prices.
impl Default for RollupSettings {
    fn default() -> Self {
        Self { window_ms: 60_000, architectures: Architectures::default(), prices: Prices::default(), by_tenant: false }
    }
}

/// A group: the function, its version and memory size, the window start (epoch ms), and the tenant when rollups
/// are by tenant. Everything in it comes from the record, so a group (and the ids and series named after it) is
/// the same in every container: the architecture, which a lookup may know in one container and not in another,
/// is what a rollup says, never which rollup it is.
/// The first element is the events' source ([`RecordValues::source_of`]): events of another account or region are
/// never summed together.
pub(crate) type Group<'a> = (u16, &'a str, &'a str, Option<u64>, i64, Option<&'a str>);

/// Where the tenant id is among a report's labels.
pub(crate) const TENANT: usize = {
    let mut i = 0;
    while !matches!(LABELS[i].doc.as_bytes(), b"tenant_id") {
        i += 1;
    }
    i
};

/// Upper bounds of the fixed duration buckets (ms, and the `le` label in seconds) that destinations without
/// sketches (Prometheus) use; the last bucket, `+Inf`, is implied. From 1 ms to the 15-minute Lambda timeout.
pub const DURATION_BUCKETS: [(f64, &str); 16] = [
    (1.0, "0.001"),
    (5.0, "0.005"),
    (10.0, "0.01"),
    (25.0, "0.025"),
    (50.0, "0.05"),
    (100.0, "0.1"),
    (250.0, "0.25"),
    (500.0, "0.5"),
    (1_000.0, "1"),
    (2_500.0, "2.5"),
    (5_000.0, "5"),
    (10_000.0, "10"),
    (30_000.0, "30"),
    (60_000.0, "60"),
    (300_000.0, "300"),
    (900_000.0, "900"),
];

/// The order of [`Totals::statuses`].
pub(crate) const STATUSES: [ReportStatus; 4] =
    [ReportStatus::Success, ReportStatus::Error, ReportStatus::Timeout, ReportStatus::Failure];

/// The sums of one group.
#[derive(Debug, Default)]
pub(crate) struct Totals {
    pub(crate) invocations: u64,
    /// Invocations per status, in [`STATUSES`] order.
    pub(crate) statuses: [u64; 4],
    pub(crate) cold_starts: u64,
    /// Sum, min, max and count of the durations (ms).
    pub(crate) duration: Option<(f64, f64, f64, u64)>,
    pub(crate) sketch: Sketch,
    /// Durations per [`DURATION_BUCKETS`] bucket (not cumulative), `+Inf` last.
    pub(crate) buckets: [u64; DURATION_BUCKETS.len() + 1],
    pub(crate) billed_duration_ms: u64,
    pub(crate) init_duration_ms: f64,
    pub(crate) restore_duration_ms: f64,
    pub(crate) billed_restore_duration_ms: u64,
    pub(crate) restores: u64,
    pub(crate) max_memory: Option<(u64, u64, u64)>,
    pub(crate) utilization: Option<(f64, f64, u64)>,
    pub(crate) gb_seconds: f64,
    pub(crate) cost: f64,
    pub(crate) priced: u64,
    pub(crate) unpriced: Option<Unpriced>,
    pub(crate) init_failures: u64,
    /// The log time of the group's last report or init failure (epoch ms).
    pub(crate) last_ms: i64,
}

/// What one record's reports and init failures add up to, per group.
pub(crate) struct Rollup<'a> {
    /// The groups, in order, with their sums.
    pub(crate) groups: BTreeMap<Group<'a>, Totals>,
    /// The function's configuration, when the lookup found it.
    pub(crate) looked_up: Option<crate::catalog::FunctionConfig>,
}

/// The function a record's payload comes from, as every rollup destination names and prices it.
pub(crate) struct FunctionInfo<'a> {
    /// Function name.
    pub(crate) name: &'a str,
    /// Version (`$LATEST` when the log stream names none).
    pub(crate) version: &'a str,
    /// Architecture, which prices it: `FUNCTION_ARCHITECTURES`, else `x86_64`. A static setting, never the
    /// lookup's answer, so that every container prices a record alike.
    pub(crate) arch: crate::cost::Architecture,
    /// The function's configuration, when the lookup found it (descriptive fields of rollup documents only).
    pub(crate) looked_up: Option<crate::catalog::FunctionConfig>,
}

/// The function of `values`' payload.
pub(crate) fn function_info<'a>(values: &RecordValues<'a>, settings: &RollupSettings) -> FunctionInfo<'a> {
    let ctx = values.source();
    let id = function_of(ctx.log_group, ctx.log_stream);
    let name = id.name_or(ctx.log_group);
    let looked_up = values.catalog.get(name).cloned();
    let arch = settings.architectures.resolve(name, None);
    FunctionInfo { name, version: id.version.unwrap_or("$LATEST"), arch, looked_up }
}

/// One invocation's estimated cost (USD) at `settings`' prices, or why it has none.
pub(crate) fn invocation_cost(
    settings: &RollupSettings,
    region: Option<&str>,
    arch: crate::cost::Architecture,
    r: &crate::extract::InvocationReport<'_>,
) -> Result<f64, Unpriced> {
    let billed = Billed {
        billed_duration_ms: r.billed_duration_ms(),
        memory_size_mb: r.memory_size_mb(),
        billed_restore_duration_ms: r.billed_restore_duration_ms(),
    };
    settings.prices.invocation(region, arch, billed)
}

/// Sums one record's reports and init failures per group: the one model every rollup destination encodes.
pub(crate) fn roll_up<'a>(values: &RecordValues<'a>, settings: &RollupSettings) -> Rollup<'a> {
    let (reports, init_failures) = (values.reports, values.init_failures);
    let FunctionInfo { name, version, arch, looked_up } = function_info(values, settings);
    let mut groups: BTreeMap<Group<'a>, Totals> = BTreeMap::new();
    for found in reports {
        let r = &found.report;
        let window = found.timestamp.div_euclid(settings.window_ms) * settings.window_ms;
        let tenant = if settings.by_tenant { r.labels[TENANT].as_deref() } else { None };
        let t = groups.entry((found.source, name, version, r.memory_size_mb(), window, tenant)).or_default();
        t.last_ms = t.last_ms.max(found.timestamp);
        t.invocations += 1;
        t.statuses[STATUSES.iter().position(|s| *s == r.status).unwrap_or_default()] += 1;
        t.cold_starts += u64::from(r.cold_start());
        if let Some(ms) = r.duration_ms() {
            let (sum, min, max, n) = t.duration.unwrap_or((0.0, f64::MAX, f64::MIN, 0));
            t.duration = Some((sum + ms, min.min(ms), max.max(ms), n + 1));
            t.sketch.add(ms);
            t.buckets[DURATION_BUCKETS.partition_point(|(bound, _)| *bound < ms)] += 1;
        }
        t.billed_duration_ms += r.billed_duration_ms().unwrap_or(0);
        t.init_duration_ms += r.init_duration_ms().unwrap_or(0.0);
        t.restore_duration_ms += r.restore_duration_ms().unwrap_or(0.0);
        t.billed_restore_duration_ms += r.billed_restore_duration_ms().unwrap_or(0);
        t.restores += u64::from(r.restore_duration_ms().is_some());
        if let Some(mb) = r.max_memory_used_mb() {
            let (max, sum, n) = t.max_memory.unwrap_or_default();
            t.max_memory = Some((max.max(mb), sum + mb, n + 1));
        }
        if let Some(u) = r.memory_utilization() {
            let (max, sum, n) = t.utilization.unwrap_or_default();
            t.utilization = Some((max.max(u), sum + u, n + 1));
        }
        t.gb_seconds += r.billed_gb_seconds().unwrap_or(0.0);
        match invocation_cost(settings, values.source_of(found.source).region, arch, r) {
            Ok(usd) => {
                t.cost += usd;
                t.priced += 1;
            }
            Err(why) => t.unpriced = t.unpriced.max(Some(why)),
        }
    }
    // An init failure names no memory size: it is counted in the group without one.
    for f in init_failures {
        let window = f.timestamp.div_euclid(settings.window_ms) * settings.window_ms;
        let t = groups.entry((f.source, name, version, None, window, None)).or_default();
        t.init_failures += 1;
        t.last_ms = t.last_ms.max(f.timestamp);
    }
    Rollup { groups, looked_up }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_merged_sketches_answer_percentiles_within_their_accuracy() {
        // A long-tailed spread of durations (0.05 ms to about 30 s), split over 7 partial sketches.
        let mut values: Vec<f64> = (0..20_000u64)
            .map(|i| {
                let u = ((i * 2_654_435_761) % 1_000_003) as f64 / 1_000_003.0;
                0.05 * (u * 13.3).exp()
            })
            .collect();
        let mut parts = vec![Sketch::default(); 7];
        for (i, v) in values.iter().enumerate() {
            parts[i % 7].add(*v);
        }
        let mut merged = Sketch::default();
        parts.iter().for_each(|p| merged.merge(p));
        let round_trip = Sketch::from_json(&merged.to_json()).unwrap();
        assert_eq!(round_trip, merged);
        values.sort_by(f64::total_cmp);
        for q in [0.5, 0.9, 0.99] {
            let exact = values[(q * (values.len() - 1) as f64).floor() as usize];
            let got = merged.quantile(q).unwrap();
            assert!((got - exact).abs() <= SKETCH_ACCURACY * exact, "p{}: {got} against {exact}", q * 100.0);
        }
        assert_eq!(Sketch::default().quantile(0.5), None);
    }
}
