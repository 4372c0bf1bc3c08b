//! Reconciliation and cost-to-serve against the generator's ground truth: a batch where about a third of the
//! invocations log no meter line and many are cut across records and batches, through `--out` directories and
//! through the search mirror on both servers, also after a replay; and the HTML report rendered in Chromium.

use crate::rollups::{ARCHITECTURES, PRICES, close};
use crate::servers::{self, rt, unique};
use crate::support::{root, tempdir};
use logmeter::KinesisBatch;
use logmeter::samplegen::{Sample, generate, reconcile};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::OnceLock;

fn sample() -> &'static Sample {
    static S: OnceLock<Sample> = OnceLock::new();
    S.get_or_init(|| generate(&reconcile()))
}

/// The margin sample: the same shape over six days.
fn margin_sample() -> &'static Sample {
    static S: OnceLock<Sample> = OnceLock::new();
    S.get_or_init(|| generate(&logmeter::samplegen::margins()))
}

/// The sample's records dealt into two batches, the odd ones first: an invocation whose events span records
/// has its meter line in one batch and its REPORT in the other, read in either order.
fn batch_events(s: &Sample) -> Vec<Value> {
    let event: Value = serde_json::from_str(&s.event).unwrap();
    let records = event["Records"].as_array().unwrap();
    let pick = |odd: usize| -> Vec<&Value> { records.iter().skip(odd).step_by(2).collect() };
    vec![serde_json::json!({"Records": pick(1)}), serde_json::json!({"Records": pick(0)})]
}

fn batches() -> Vec<KinesisBatch> {
    batch_events(sample()).into_iter().map(|e| serde_json::from_value(e).unwrap()).collect()
}

/// Each batch as an event file.
fn event_files(s: &Sample, dir: &Path) -> Vec<String> {
    std::fs::create_dir_all(dir).unwrap();
    batch_events(s)
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let path = dir.join(format!("batch-{i}.json"));
            std::fs::write(&path, serde_json::to_vec(b).unwrap()).unwrap();
            path.display().to_string()
        })
        .collect()
}

fn env() -> Vec<(&'static str, String)> {
    let mut v: Vec<(&str, String)> = PRICES.iter().map(|(k, v)| (*k, v.to_string())).collect();
    v.push(("FUNCTION_ARCHITECTURES", ARCHITECTURES.into()));
    v
}

fn logmeter(args: &[&str]) -> std::process::Output {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_logmeter"))
        .args(args)
        .envs(env())
        .current_dir(root())
        .output()
        .unwrap();
    assert!(out.status.success(), "logmeter {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

fn reconcile_json(args: &[&str]) -> Value {
    let mut all = vec!["reconcile", "--metered", "all", "--format", "json"];
    all.extend(args);
    serde_json::from_slice(&logmeter(&all).stdout).unwrap()
}

/// A handler writing to the mirror at `base` into indices of its own (the reconciliation documents' and the
/// invocation documents' prefixes come back), rollups off.
fn mirror_handler(rt: &tokio::runtime::Runtime, base: &str, tag: &str) -> (logmeter::Handler, String, String) {
    let bucket = rt.block_on(servers::bucket());
    // Under the default pattern's prefix, so the reconciliation template covers it whichever test installed it.
    let prefix = format!("logmeter-reconcile-{}", unique(tag));
    let metrics = format!("logmeter-metrics-{}", unique(tag));
    let mut settings = env();
    settings.extend([
        ("INGEST_BUCKET_NAME", bucket),
        ("SEARCH_URL", base.to_owned()),
        ("SEARCH_INDEX_PATTERN", format!("{metrics}-%Y.%m.%d")),
        ("SEARCH_ROLLUPS", "false".into()),
        ("SEARCH_RECONCILE_INDEX_PATTERN", format!("{prefix}-%Y.%m.%d")),
    ]);
    own_templates(base, &prefix, &metrics);
    (rt.block_on(servers::handler(&settings)), prefix, metrics)
}

/// The mirror at `base`, as the scheduled reconciliation reaches it.
fn mirror_client(
    rt: &tokio::runtime::Runtime,
    base: &str,
) -> (logmeter::output::search::SearchConfig, logmeter::output::search::client::SearchHttp) {
    let config = logmeter::output::search::SearchConfig::from_lookup(&|k: &str| match k {
        "SEARCH_URL" => Some(base.to_owned()),
        _ => None,
    })
    .unwrap()
    .unwrap();
    let sdk = rt.block_on(servers::sdk(&servers::s3(), "test"));
    let http = logmeter::output::search::client::SearchHttp::new(&config, sdk, None);
    (config, http)
}

/// `logmeter process` of `s`'s batches into `work/out`, whose path comes back.
fn processed(s: &Sample, work: &Path) -> String {
    let files = event_files(s, &work.join("events"));
    let out = work.join("out").display().to_string();
    let mut args = vec!["process"];
    args.extend(files.iter().map(String::as_str));
    args.extend(["--out", &out]);
    logmeter(&args);
    out
}

/// The join sorts both halves by keywords: this test's indices get templates of their own (the process-wide ones
/// were installed by whichever test came first, for its own indices).
fn own_templates(base: &str, reconcile_prefix: &str, metrics: &str) {
    use logmeter::output::search::client::{index_template, reconcile_template};
    for (name, mut template) in [
        (metrics.to_owned(), index_template(&[format!("{metrics}-*")], false)),
        (reconcile_prefix.to_owned(), reconcile_template(&[format!("{reconcile_prefix}-*")])),
    ] {
        template["priority"] = serde_json::json!(900);
        let (status, body) =
            servers::http("PUT", &format!("{base}/_index_template/{name}"), Some(&template.to_string()));
        assert_eq!(status, 200, "{body}");
    }
}

/// The generator's invocations that logged no meter line.
fn truth_unmetered(s: &Sample) -> BTreeSet<String> {
    s.truth.reports.iter().filter(|r| r.customers.is_empty()).map(|r| r.request_id.clone()).collect()
}

/// One invocation's cost at the test prices, computed from the generator's figures.
fn cost(r: &logmeter::samplegen::ExpectedReport) -> f64 {
    let (Some(ms), Some(mb)) = (r.billed_duration_ms, r.memory_size_mb) else { return 0.0 };
    let gb = mb as f64 / 1024.0;
    let per_gb_second = if r.function_name == "image-resizer" { 0.0000133334 } else { 0.0000166667 };
    let mut usd = 0.0000002 + ms as f64 / 1000.0 * gb * per_gb_second;
    if let Some(restore) = r.billed_restore_duration_ms {
        usd += restore as f64 / 1000.0 * gb * per_gb_second + gb * 0.0001397998;
    }
    usd
}

/// Per customer, `meterValue` summed per `meterApiName`.
type Usage = BTreeMap<String, BTreeMap<String, f64>>;

/// Per customer: the cost of the invocations that metered them, split equally among an invocation's distinct
/// customers (the documented rule), and usage per meter.
fn truth_customers(s: &Sample) -> (BTreeMap<String, f64>, f64, Usage) {
    let mut costs: BTreeMap<String, f64> = BTreeMap::new();
    let mut unattributed = 0.0;
    for r in &s.truth.reports {
        let customers: BTreeSet<&String> = r.customers.iter().collect();
        if customers.is_empty() {
            unattributed += cost(r);
        }
        for c in &customers {
            *costs.entry((*c).clone()).or_default() += cost(r) / customers.len() as f64;
        }
    }
    let mut usage = Usage::new();
    for m in &s.truth.meters {
        let c = m["customerId"].as_str().unwrap().to_owned();
        *usage.entry(c).or_default().entry(m["meterApiName"].as_str().unwrap().to_owned()).or_default() +=
            m["meterValue"].as_f64().unwrap();
    }
    (costs, unattributed, usage)
}

/// Checks a `reconcile --format json` answer against the ground truth.
fn assert_reconciled(got: &Value, what: &str) {
    let unmetered: Vec<String> =
        got["unmetered"].as_array().unwrap().iter().map(|u| u["request_id"].as_str().unwrap().to_owned()).collect();
    let named: BTreeSet<String> = unmetered.iter().cloned().collect();
    assert_eq!(named.len(), unmetered.len(), "{what}: an unmetered invocation named twice");
    assert_eq!(named, truth_unmetered(sample()), "{what}: exactly the invocations that logged no meter line");
    assert_eq!(got["orphans"].as_array().unwrap().len(), 0, "{what}: every meter line found its invocation");
    let total = got["totals"]["estimated_cost_usd"].as_f64().unwrap();
    let want_total: f64 = sample().truth.reports.iter().map(cost).sum();
    assert!(close(total, want_total), "{what}: total cost {total} against {want_total}");
    let (costs, unattributed, usage) = truth_customers(sample());
    let customers = got["customers"].as_array().unwrap();
    let attributed: f64 = customers.iter().map(|c| c["cost_usd"].as_f64().unwrap()).sum();
    let got_unattributed = got["unattributed"]["cost_usd"].as_f64().unwrap();
    assert!(close(attributed + got_unattributed, total), "{what}: customers plus unattributed is the total");
    assert!(close(got_unattributed, unattributed), "{what}: unattributed {got_unattributed} against {unattributed}");
    assert_eq!(customers.len(), usage.len(), "{what}: customers");
    for c in customers {
        let id = c["customer_id"].as_str().unwrap();
        let want = costs.get(id).copied().unwrap_or(0.0);
        assert!(close(c["cost_usd"].as_f64().unwrap(), want), "{what}: {id} cost");
        let got_usage: BTreeMap<String, f64> = serde_json::from_value(c["usage"].clone()).unwrap();
        assert_eq!(got_usage.keys().collect::<Vec<_>>(), usage[id].keys().collect::<Vec<_>>(), "{what}: {id}");
        for (m, v) in &usage[id] {
            assert!(close(got_usage[m], *v), "{what}: {id} {m} usage {} against {v}", got_usage[m]);
        }
    }
}

/// Per customer: revenue at the samples' price book and cost to serve, worked out by the generator (at the test
/// prices); and the usage without a price.
fn truth_margins() -> (BTreeMap<String, logmeter::samplegen::ExpectedMargin>, BTreeMap<(String, String), f64>) {
    margin_sample().truth.margins(cost)
}

/// The samples' price book, as the generator wrote it.
const PRICE_BOOK: &str = "samples/price-book.json";

/// Equal to the cent, and within rounding of the sums.
fn to_the_cent(got: f64, want: f64) -> bool {
    (got - want).abs() < 0.005 && (got - want).abs() <= 1e-9 * want.abs().max(1.0)
}

/// Checks a `reconcile --price-book … --format json` answer's revenue, cost and margin per customer against the
/// ground truth.
fn assert_margins(got: &Value, what: &str) {
    let (want, unpriced) = truth_margins();
    assert_eq!(got["currency"], "USD", "{what}");
    let customers = got["customers"].as_array().unwrap();
    assert_eq!(customers.len(), want.len(), "{what}: customers");
    for c in customers {
        let id = c["customer_id"].as_str().unwrap();
        let w = want[id];
        for (field, v) in [("revenue", w.revenue), ("cost", w.cost), ("margin", w.margin())] {
            let g = c[field].as_f64().unwrap();
            assert!(to_the_cent(g, v), "{what}: {id} {field} {g} against {v}");
        }
        let got_unpriced: BTreeMap<String, f64> = serde_json::from_value(c["unpriced_usage"].clone()).unwrap();
        let want_unpriced: BTreeMap<String, f64> =
            unpriced.iter().filter(|((cc, _), _)| cc == id).map(|((_, m), v)| (m.clone(), *v)).collect();
        assert_eq!(got_unpriced.keys().collect::<Vec<_>>(), want_unpriced.keys().collect::<Vec<_>>(), "{what}: {id}");
        for (m, v) in &want_unpriced {
            assert!(close(got_unpriced[m], *v), "{what}: {id} unpriced {m}");
        }
    }
    let revenue: f64 = want.values().map(|m| m.revenue).sum();
    assert!(to_the_cent(got["totals"]["revenue"].as_f64().unwrap(), revenue), "{what}: total revenue");
}

/// The customers who lose most, worst first (the ground truth's).
fn truth_loss_makers() -> Vec<(String, f64)> {
    let mut losses: Vec<(String, f64)> =
        truth_margins().0.into_iter().map(|(c, m)| (c, m.margin())).filter(|(_, m)| *m < 0.0).collect();
    losses.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    losses
}

#[test]
fn revenue_cost_and_margin_per_customer_equal_the_ground_truth_to_the_cent_in_json_csv_and_the_table() {
    let (want, unpriced) = truth_margins();
    assert!(truth_loss_makers().len() >= 3, "the sample has loss-makers");
    assert!(!unpriced.is_empty(), "and usage without a price");
    assert!(want.values().filter(|m| m.margin() > 0.0).count() >= 3, "and customers who pay their way");
    let work = tempdir("margins");
    let out = processed(margin_sample(), &work);
    let got = reconcile_json(&["--out", &out, "--price-book", PRICE_BOOK]);
    assert_margins(&got, "json");
    // Init phases that failed, per function, phase and status, as the generator wrote them.
    let mut init: BTreeMap<(String, String, String), u64> = BTreeMap::new();
    for (f, phase, status) in &margin_sample().truth.init_failures {
        *init.entry((f.clone(), phase.clone(), status.clone())).or_default() += 1;
    }
    assert!(init.keys().any(|k| k.1 == "invoke") && init.keys().any(|k| k.2 == "timeout"), "{init:?}");
    let mut got_init: BTreeMap<(String, String, String), u64> = BTreeMap::new();
    for f in got["functions"].as_array().unwrap() {
        for (phase, per) in f["init_failures"].as_object().unwrap() {
            for (status, n) in per.as_object().unwrap() {
                let key = (f["function"].as_str().unwrap().to_owned(), phase.clone(), status.clone());
                got_init.insert(key, n.as_u64().unwrap());
            }
        }
    }
    assert_eq!(got_init, init, "init failures per function, phase and status");
    // Per customer and day, and per month: the same customers' figures, cut the other way.
    for (rows, key) in [("customer_day_margins", "day"), ("customer_month_margins", "month")] {
        let mut per: BTreeMap<String, f64> = BTreeMap::new();
        for r in got[rows].as_array().unwrap() {
            assert!(r[key].is_string(), "{rows}: {r}");
            *per.entry(r["customer_id"].as_str().unwrap().to_owned()).or_default() += r["margin"].as_f64().unwrap();
        }
        for (c, m) in &want {
            assert!(to_the_cent(per[c], m.margin()), "{rows}: {c}");
        }
    }

    // The CSV: a row per customer, function and day, whose revenue adds up per customer.
    let csv = String::from_utf8(
        logmeter(&["reconcile", "--out", &out, "--format", "csv", "--price-book", PRICE_BOOK]).stdout,
    )
    .unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let mut revenue: BTreeMap<String, f64> = BTreeMap::new();
    for line in csv.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells[col("currency")], "USD");
        *revenue.entry(cells[col("customer_id")].to_owned()).or_default() +=
            cells[col("revenue")].parse::<f64>().unwrap();
    }
    for (c, m) in &want {
        assert!(to_the_cent(revenue[c], m.revenue), "csv: {c} revenue {} against {}", revenue[c], m.revenue);
    }
    assert_eq!(revenue.get("(unattributed)"), Some(&0.0), "unattributed cost earns nothing");

    // The table ranks customers by margin, the worst loss-maker first.
    let table = String::from_utf8(
        logmeter(&["reconcile", "--out", &out, "--metered", "all", "--price-book", PRICE_BOOK]).stdout,
    )
    .unwrap();
    let rows: Vec<&str> = table.lines().skip_while(|l| !l.starts_with("customer ")).skip(1).collect();
    let losses = truth_loss_makers();
    for (i, (c, margin)) in losses.iter().take(3).enumerate() {
        assert!(rows[i].starts_with(&format!("{c} ")), "row {i} is {c} ({margin:.2}): {}", rows[i]);
    }
    assert!(table.contains(&format!("loss-makers: {}", losses.len())), "{table}");
    assert!(table.contains("unpriced usage"), "usage without a price is named, never free");

    // A price book that breaks its rules stops the command with the reason.
    let bad = work.join("bad-book.json");
    std::fs::write(&bad, r#"{"meters":{"api-calls":{"tiers":[{"up_to":5,"unit_price":1}]}}}"#).unwrap();
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_logmeter"))
        .args(["reconcile", "--out", &out, "--price-book", &bad.display().to_string()])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("the last tier must have no up_to"));
}

/// Day by day through the search mirror, as the scheduled reconciliation runs it: each day's window is placed in its
/// month's allowance and tiers by the month's earlier meter records (read back from the mirror), and its results
/// are written to the mirror: their revenue, cost and margin add up to the ground truth's per customer.
#[test]
fn margins_day_by_day_through_the_search_mirror_add_up_to_the_ground_truth() {
    let rt = rt();
    let base = servers::opensearch();
    let (h, prefix, metrics) = mirror_handler(&rt, &base, "margin");
    for part in batch_events(margin_sample()) {
        let batch: KinesisBatch = serde_json::from_value(part).unwrap();
        assert!(rt.block_on(h.handle(&batch, None)).response.batch_item_failures.is_empty());
    }
    servers::http("POST", &format!("{base}/{prefix}-*/_refresh"), None);
    servers::http("POST", &format!("{base}/{metrics}-*/_refresh"), None);

    let (config, http) = mirror_client(&rt, &base);
    let mirror = logmeter::reconcile::scheduled::results_mirror(&config, http);
    let book = logmeter::reconcile::scheduled::read_price_book(PRICE_BOOK).unwrap();
    let (index, metrics_index) = (format!("{prefix}-*"), format!("{metrics}-*"));
    // The sample runs over 2026-10-05 to 10-10: a window a day, as the schedule runs them, written to the mirror.
    for day in 5..=11 {
        let window = logmeter::reconcile::scheduled::Window::parse(
            &format!("2026-10-{day:02}"),
            &format!("2026-10-{:02}", day + 1),
        )
        .unwrap();
        let options = logmeter::reconcile::scheduled::options("all", "", Some(&window), Some(book.clone())).unwrap();
        let outcome = rt
            .block_on(logmeter::reconcile::scheduled::reconcile_window(
                mirror.http(),
                &index,
                &metrics_index,
                options,
                Some(&window),
            ))
            .unwrap();
        rt.block_on(logmeter::reconcile::scheduled::write_results(&mirror, &outcome, &window)).unwrap();
    }
    // The mirror's per-customer documents of October, added up per customer.
    servers::http("POST", &format!("{base}/logmeter-cost-to-serve-*/_refresh"), None);
    let query = r#"{"size":0,"query":{"bool":{"filter":[{"term":{"event.dataset":"logmeter.cost_to_serve"}},
        {"range":{"window.from":{"gte":"2026-10-01T00:00:00.000Z","lt":"2026-11-01T00:00:00.000Z"}}}]}},
        "aggs":{"c":{"terms":{"field":"customer_id","size":10000},"aggs":{"revenue":{"sum":{"field":"revenue"}},
        "cost":{"sum":{"field":"cost"}},"margin":{"sum":{"field":"margin"}}}}}}"#;
    let (status, body) = servers::http("POST", &format!("{base}/logmeter-cost-to-serve-*/_search"), Some(query));
    assert_eq!(status, 200, "{body}");
    let mut in_mirror: BTreeMap<String, (f64, f64, f64)> = BTreeMap::new();
    for b in body["aggregations"]["c"]["buckets"].as_array().unwrap() {
        let sum = |k: &str| b[k]["value"].as_f64().unwrap_or_else(|| panic!("{k}: {b}"));
        in_mirror.insert(b["key"].as_str().unwrap().to_owned(), (sum("revenue"), sum("cost"), sum("margin")));
    }
    let unattributed = in_mirror.remove("(unattributed)").expect("the unattributed cost is in the mirror too");
    assert!(unattributed.0 == 0.0 && unattributed.1 > 0.0, "no revenue, only cost: {unattributed:?}");
    let (want, _) = truth_margins();
    assert_eq!(in_mirror.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>());
    for (c, w) in &want {
        let (revenue, cost, margin) = in_mirror[c];
        assert!(to_the_cent(revenue, w.revenue), "{c}: revenue in the mirror {revenue} against {}", w.revenue);
        assert!(to_the_cent(cost, w.cost), "{c}: cost in the mirror {cost} against {}", w.cost);
        assert!(to_the_cent(margin, w.margin()), "{c}: margin in the mirror {margin} against {}", w.margin());
    }
}

#[test]
fn reconcile_over_out_directories_names_exactly_the_unmetered_invocations_and_attributes_all_cost() {
    let n = sample().truth.reports.len();
    let unmetered = truth_unmetered(sample()).len();
    assert!((n / 4..n * 5 / 12).contains(&unmetered), "about a third unmetered: {unmetered} of {n}");
    let work = tempdir("reconcile-out");
    let files = event_files(sample(), &work.join("events"));
    let out = work.join("out");
    let out_arg = out.display().to_string();

    // The first batch alone: meter lines whose REPORT is in the other batch are orphans for now.
    logmeter(&["process", &files[0], "--out", &out_arg]);
    let partial = reconcile_json(&["--out", &out_arg]);
    let waiting = partial["orphans"].as_array().unwrap().iter().filter(|o| o["reason"] == "no_report").count();
    assert!(waiting > 0, "some invocations are cut across batches");

    let mut args = vec!["process"];
    args.extend(files[1..].iter().map(String::as_str));
    args.extend(["--out", &out_arg]);
    logmeter(&args);
    let got = reconcile_json(&["--out", &out_arg]);
    assert_reconciled(&got, "out directory");

    // A replay of everything, in another order: nothing changes.
    let mut args = vec!["process"];
    args.extend(files.iter().rev().map(String::as_str));
    args.extend(["--out", &out_arg]);
    logmeter(&args);
    let again = reconcile_json(&["--out", &out_arg]);
    assert_eq!(again["unmetered"], got["unmetered"]);
    assert_eq!(again["totals"], got["totals"]);

    // The CSV holds a row per customer, function and day, whose costs add up to the same total.
    let csv = String::from_utf8(logmeter(&["reconcile", "--out", &out_arg, "--format", "csv"]).stdout).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let cost_column = header.iter().position(|h| *h == "cost_usd").unwrap();
    let sum: f64 = csv.lines().skip(1).map(|l| l.split(',').nth(cost_column).unwrap().parse::<f64>().unwrap()).sum();
    assert!(close(sum, got["totals"]["estimated_cost_usd"].as_f64().unwrap()), "CSV costs add up: {sum}");

    // The table names the unmetered count.
    let table = String::from_utf8(logmeter(&["reconcile", "--out", &out_arg, "--metered", "all"]).stdout).unwrap();
    assert!(table.contains(&format!("unmetered invocations: {}", truth_unmetered(sample()).len())), "{table}");
    // Nothing is unmetered unless the user names the functions that must meter.
    let none: Value =
        serde_json::from_slice(&logmeter(&["reconcile", "--out", &out_arg, "--format", "json"]).stdout).unwrap();
    assert_eq!(none["unmetered"].as_array().unwrap().len(), 0);
}

#[test]
fn reconcile_through_the_search_mirror_matches_the_ground_truth_on_both_servers_after_a_replay() {
    let rt = rt();
    for base in [servers::opensearch(), servers::elasticsearch()] {
        let (h, prefix, metrics) = mirror_handler(&rt, &base, "it");
        let parts = batches();
        for part in &parts {
            assert!(rt.block_on(h.handle(part, None)).response.batch_item_failures.is_empty());
        }
        // A replay of the second batch.
        rt.block_on(h.handle(&parts[1], None));
        servers::http("POST", &format!("{base}/{prefix}-*/_refresh"), None);
        servers::http("POST", &format!("{base}/{metrics}-*/_refresh"), None);
        let (index, metrics_index) = (format!("{prefix}-*"), format!("{metrics}-*"));
        let read = ["--search-url", &base, "--index", &index, "--metrics-index", &metrics_index];
        let got = reconcile_json(&read);
        assert_reconciled(&got, &base);
        assert_eq!(got["totals"]["documents_read"], got["totals"]["documents_distinct"], "create kept one copy");

        // The day's window, with its results written to the mirror; then the same window as the scheduled Lambda
        // runs it half an hour after the day ends: the results are replaced, not added to.
        let day = ["--from", "2026-11-19", "--to", "2026-11-20", "--write"];
        let windowed = reconcile_json(&[&read[..], &day[..]].concat());
        assert_reconciled(&windowed, &format!("{base}, one day"));
        let (config, http) = mirror_client(&rt, &base);
        let mirror = logmeter::reconcile::scheduled::results_mirror(&config, http);
        let task: logmeter::reconcile::scheduled::Task = serde_json::from_value(
            serde_json::json!({"reconcile": {"metered": "all", "index": index, "metrics_index": metrics_index}}),
        )
        .unwrap();
        let half_past =
            logmeter::reconcile::scheduled::Window::parse("2026-11-20T00:30:00Z", "2026-11-21").unwrap().from_ms;
        let (outcome, window) =
            rt.block_on(logmeter::reconcile::scheduled::run(&task.reconcile, &mirror, None, half_past)).unwrap();
        assert_eq!(window.bounds().0, "2026-11-19T00:00:00.000Z");
        let emf: Value =
            serde_json::from_str(&logmeter::reconcile::scheduled::emf_lines(&outcome, half_past)[0]).unwrap();
        assert_eq!(emf["UnmeteredInvocations"], truth_unmetered(sample()).len(), "the alarm's metric");
        assert_eq!(emf["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"], "UnmeteredInvocations");
        // This window's unmetered invocations (other tests write other windows).
        servers::http("POST", &format!("{base}/logmeter-unmetered-*/_refresh"), None);
        let (status, counted) = servers::http(
            "POST",
            &format!("{base}/logmeter-unmetered-*/_count"),
            Some(
                r#"{"query":{"range":{"@timestamp":{"gte":"2026-11-19T00:00:00.000Z","lt":"2026-11-20T00:00:00.000Z"}}}}"#,
            ),
        );
        assert_eq!(status, 200, "{counted}");
        assert_eq!(counted["count"], truth_unmetered(sample()).len());
        // Cost to serve in the mirror: per customer, function and day, adding up to the window's cost.
        servers::http("POST", &format!("{base}/logmeter-cost-to-serve-*/_refresh"), None);
        let (status, body) = servers::http(
            "POST",
            &format!("{base}/logmeter-cost-to-serve-*/_search"),
            // This window's documents (other tests write other windows).
            Some(
                r#"{"size":0,"query":{"term":{"window.from":"2026-11-19T00:00:00.000Z"}},"aggs":{"cost":{"sum":{"field":"cost_usd"}}}}"#,
            ),
        );
        assert_eq!(status, 200, "{body}");
        let in_mirror = body["aggregations"]["cost"]["value"].as_f64().unwrap();
        assert!(
            close(in_mirror, outcome.ledger.total_cost_usd),
            "{in_mirror} against {}",
            outcome.ledger.total_cost_usd
        );
    }
}

/// Pixels of a PNG that differ from its first pixel, read with the zlib inflater (filters undone per row).
fn non_background_pixels(png: &[u8]) -> usize {
    use std::io::Read as _;
    let (mut pos, mut idat, mut width, mut channels) = (8, Vec::new(), 0usize, 4usize);
    while pos + 8 <= png.len() {
        let len = u32::from_be_bytes(png[pos..pos + 4].try_into().unwrap()) as usize;
        let kind = &png[pos + 4..pos + 8];
        let data = &png[pos + 8..pos + 8 + len];
        if kind == b"IHDR" {
            width = u32::from_be_bytes(data[0..4].try_into().unwrap()) as usize;
            channels = match data[9] {
                2 => 3,
                6 => 4,
                0 => 1,
                4 => 2,
                c => panic!("PNG colour type {c}"),
            };
            assert_eq!(data[8], 8, "8-bit PNG");
        }
        if kind == b"IDAT" {
            idat.extend_from_slice(data);
        }
        pos += 12 + len;
    }
    let mut raw = Vec::new();
    flate2::read::ZlibDecoder::new(&idat[..]).read_to_end(&mut raw).unwrap();
    let stride = width * channels;
    let mut prev = vec![0u8; stride];
    let mut differ = 0;
    let mut first: Option<Vec<u8>> = None;
    for row in raw.chunks(stride + 1) {
        let (filter, line) = (row[0], &row[1..]);
        let mut cur = vec![0u8; stride];
        for i in 0..stride {
            let a = if i >= channels { cur[i - channels] as i16 } else { 0 };
            let b = prev[i] as i16;
            let c = if i >= channels { prev[i - channels] as i16 } else { 0 };
            let x = line[i] as i16;
            cur[i] = match filter {
                0 => x,
                1 => x + a,
                2 => x + b,
                3 => x + (a + b) / 2,
                4 => {
                    let p = a + b - c;
                    let (pa, pb, pc) = ((p - a).abs(), (p - b).abs(), (p - c).abs());
                    x + if pa <= pb && pa <= pc {
                        a
                    } else if pb <= pc {
                        b
                    } else {
                        c
                    }
                }
                f => panic!("PNG filter {f}"),
            } as u8;
        }
        for px in cur.chunks(channels) {
            match &first {
                None => first = Some(px.to_vec()),
                Some(f) if f != px => differ += 1,
                _ => {}
            }
        }
        prev = cur;
    }
    differ
}

#[test]
fn report_renders_in_chromium_with_the_ground_truth_numbers() {
    let chromium = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|c| std::process::Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success()));
    let chromium = chromium.expect("Chromium is installed by tests/servers.sh");
    let work = tempdir("report");
    let out = processed(margin_sample(), &work);
    let html = work.join("report.html");
    let html_arg = html.display().to_string();
    logmeter(&["report", "--out", &out, "--metered", "all", "--html", &html_arg, "--price-book", PRICE_BOOK]);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(!page.contains("http://") && !page.contains("https://") && !page.contains("<script"), "self-contained");

    let shot = work.join("report.png");
    let status = std::process::Command::new(chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1280,900"])
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", html.display()))
        .output()
        .unwrap();
    assert!(shot.exists(), "chromium wrote no screenshot: {}", String::from_utf8_lossy(&status.stderr));
    let png = std::fs::read(&shot).unwrap();
    assert!(non_background_pixels(&png) > 20_000, "the screenshot is not blank");

    let dom = std::process::Command::new(chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom"])
        .arg(format!("file://{}", html.display()))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&dom.stdout);
    let reports = &margin_sample().truth.reports;
    assert!(text.contains(&format!("invocations<b>{}</b>", reports.len())), "total invocations");
    assert!(text.contains(&format!("unmetered invocations<b>{}</b>", truth_unmetered(margin_sample()).len())));
    let mut per_function: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for r in reports {
        let e = per_function.entry(&r.function_name).or_default();
        e.0 += 1;
        e.1 += usize::from(r.customers.is_empty());
    }
    // Out of memory, whatever the status: max memory used at the memory size, timeouts among them.
    let full = |r: &&logmeter::samplegen::ExpectedReport| {
        r.max_memory_used_mb.is_some() && r.max_memory_used_mb == r.memory_size_mb
    };
    assert!(reports.iter().filter(full).any(|r| r.status == "timeout"), "the sample has a timeout at full memory");
    for f in per_function.keys() {
        let oom = reports.iter().filter(full).filter(|r| r.function_name == *f).count();
        let row = text.split(&format!("<tr><td>{f}</td>")).last().unwrap().split("</tr>").next().unwrap();
        assert!(row.contains(&format!("<td class=\"oom\">{oom}</td>")), "{f}: {oom} suspected out of memory: {row}");
        let failed = margin_sample()
            .truth
            .init_failures
            .iter()
            .filter(|(g, p, s)| g == f && p == "init" && s == "timeout")
            .count();
        if failed > 0 {
            assert!(row.contains(&format!("init timeout: {failed}")), "{f}: {failed} init timeouts: {row}");
        }
    }
    for (f, (n, u)) in per_function {
        assert!(text.contains(&format!("{u} of {n}")), "{f}: unmetered of invocations");
        assert!(text.contains(&format!("<h3>{f} — {u} unmetered</h3>")), "{f}: its request ids");
    }
    // Customers ranked by margin: the ground truth's worst loss-makers first, in order, with their margins; each
    // with its three charts; and the functions that serve them.
    let ranked =
        text.split("<table class=\"margin\">").nth(1).expect("the margin table").split("</table>").next().unwrap();
    let rows: Vec<&str> = ranked.split("<tr").skip(2).collect();
    // Shown to the cent, or below a cent to two significant digits.
    let shown_as = |cell: &str, want: f64| {
        let shown: f64 = cell.parse().unwrap();
        if want.abs() >= 0.01 { (shown - want).abs() < 0.005 } else { (shown - want).abs() <= want.abs() * 0.06 }
    };
    for (i, (c, _)) in truth_loss_makers().iter().take(3).enumerate() {
        assert!(rows[i].contains(&format!("<td>{c}</td>")), "row {i} is the loss-maker {c}: {}", rows[i]);
    }
    // Every customer shown: its revenue, cost and margin, the ground truth's; its three charts.
    let (want, _) = truth_margins();
    assert_eq!(rows.len(), want.len().min(25), "the 25 customers with the lowest margins");
    for row in &rows {
        let cells: Vec<&str> = row.split("<td>").skip(1).map(|c| c.split('<').next().unwrap()).collect();
        let w = want[cells[0]];
        for (i, (what, v)) in [("revenue", w.revenue), ("cost", w.cost), ("margin", w.margin())].into_iter().enumerate()
        {
            assert!(shown_as(cells[1 + i], v), "{}'s {what} {v} shown as {}: {row}", cells[0], cells[1 + i]);
        }
        assert_eq!(row.matches("<svg class=\"spark").count(), 3, "usage, cost and margin charts");
        assert!(row.contains("<polyline points="), "{}: a line over the days", cells[0]);
    }
    let (worst, _) = &truth_loss_makers()[0];
    assert!(text.contains(&format!("<tr class=\"loss\"><td>{worst}</td><td>")), "the functions that serve {worst}");
    let revenue: f64 = truth_margins().0.values().map(|m| m.revenue).sum();
    assert!(text.contains(&format!("revenue<b>{revenue:.2} USD</b>")), "total revenue {revenue:.2}");
    // Over the days: a line of one point per day.
    let days: BTreeSet<String> = margin_sample()
        .truth
        .meters
        .iter()
        .map(|m| {
            chrono::DateTime::from_timestamp_millis(m["meterTimeInMillis"].as_i64().unwrap())
                .unwrap()
                .format("%F")
                .to_string()
        })
        .collect();
    assert!(days.len() >= 5, "the sample runs over days: {days:?}");
    let points = rows[0].split("<polyline points=\"").nth(1).unwrap().split('"').next().unwrap();
    assert!(points.split(' ').count() >= days.len(), "a point per day: {points}");
    let (costs, _, _) = truth_customers(margin_sample());
    let (top, usd) = costs.iter().max_by(|a, b| a.1.total_cmp(b.1)).unwrap();
    let bar = format!(">{top}</text>");
    let at = text.find(&bar).unwrap_or_else(|| panic!("the costliest customer, {top}, has a bar"));
    let value = text[at..].split("class=\"v\">").nth(1).unwrap().split('<').next().unwrap();
    assert_eq!(value, format!("{usd:.6} USD"), "{top}'s cost to serve");
}

/// An asynchronous invocation's retries keep its request id: two invocation documents with one `faas.invocation_id`,
/// the last two of 2,001, so that pages of 2,000 split them. Both are read, on both servers.
#[test]
fn reconcile_reads_both_retries_of_one_request_across_a_page_boundary() {
    for base in [servers::opensearch(), servers::elasticsearch()] {
        let metrics = format!("logmeter-metrics-{}", unique("retry"));
        let mut template = logmeter::output::search::client::index_template(&[format!("{metrics}-*")], false);
        template["priority"] = serde_json::json!(900);
        let (status, body) =
            servers::http("PUT", &format!("{base}/_index_template/{metrics}"), Some(&template.to_string()));
        assert_eq!(status, 200, "{body}");
        let stream = "2026/11/19/[$LATEST]0123456789abcdef0123456789abcdef";
        let mut bulk = String::new();
        for i in 0..2_001 {
            // The first 1,999 requests are distinct; the last two are one request's first run and its retry.
            let (request, at) = match i {
                0..1_999 => (format!("a-{i:04}"), format!("2026-11-19T10:00:00.{:03}Z", i % 1000)),
                _ => ("z-retried".to_owned(), format!("2026-11-19T11:0{}:00.000Z", i - 1_999)),
            };
            let doc = serde_json::json!({"@timestamp": at, "event": {"dataset": "aws.lambda.report"},
                "faas": {"name": "worker", "version": "$LATEST", "invocation_id": request, "coldstart": false},
                "aws": {"cloudwatch": {"log_group": "/aws/lambda/worker", "log_stream": stream},
                    "lambda": {"status": "error", "duration_ms": 5.0, "billed_gb_seconds": 0.01}}});
            bulk.push_str(&format!(
                "{{\"create\":{{\"_index\":\"{metrics}-2026.11.19\",\"_id\":\"d-{i}\"}}}}\n{doc}\n"
            ));
        }
        let out = std::process::Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "content-type: application/x-ndjson"])
            .args(["--data-binary", "@-", &format!("{base}/_bulk?refresh=true")])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write as _;
                child.stdin.take().unwrap().write_all(bulk.as_bytes())?;
                child.wait_with_output()
            })
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "200");
        let index = format!("{}-nothing-*", unique("reconcile"));
        let metrics_index = format!("{metrics}-*");
        let got = reconcile_json(&["--search-url", &base, "--index", &index, "--metrics-index", &metrics_index]);
        assert_eq!(got["totals"]["documents_read"], 2_001, "{base}: {}", got["totals"]);
        let retried = got["unmetered"].as_array().unwrap().iter().filter(|u| u["request_id"] == "z-retried").count();
        assert_eq!(retried, 2, "{base}: both runs of the retried request are unmetered invocations");
    }
}

/// A template an earlier version installed (a lower `_meta.schema_version`) is replaced, so the fields it lacks are
/// mapped in the indices created from then on; the current one is left alone.
#[test]
fn index_templates_an_earlier_version_installed_are_replaced() {
    let rt = rt();
    for base in [servers::opensearch(), servers::elasticsearch()] {
        let name = unique("upgraded-template");
        let pattern = format!("{name}-%Y.%m.%d");
        let current = logmeter::output::search::client::reconcile_results_template(&[&pattern]);
        let mut earlier = current.clone();
        earlier["_meta"]["schema_version"] = serde_json::json!(1);
        earlier["template"]["mappings"]["properties"].as_object_mut().unwrap().remove("margin");
        let path = format!("{base}/_index_template/{name}");
        let (status, body) = servers::http("PUT", &path, Some(&earlier.to_string()));
        assert_eq!(status, 200, "{body}");
        let leaked: &'static str = Box::leak(name.clone().into_boxed_str());
        let (config, http) = mirror_client(&rt, &base);
        let mirror = logmeter::output::search::SearchMirror::new(&config, http, "logmeter-metrics", None, None, None)
            .with_template(leaked, current.clone());
        rt.block_on(mirror.ensure_template()).unwrap();
        let (_, got) = servers::http("GET", &path, None);
        let installed = &got["index_templates"][0]["index_template"];
        assert_eq!(installed["_meta"]["schema_version"], logmeter::output::search::template::SCHEMA_VERSION, "{base}");
        assert_eq!(installed["template"]["mappings"]["properties"]["margin"]["type"], "double", "{base}");
    }
}
