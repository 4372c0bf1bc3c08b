//! Prometheus against the real servers (Debian's `prometheus` with the remote write receiver and an out-of-order
//! window, and `prometheus-pushgateway`): the PromQL of docs/prometheus.md against the generator's ground truth, after a
//! retry, after two concurrent invocations over the same functions and windows, and after an outage's spool is
//! replayed; with no sample refused, and a refusal that is quarantined and never retried.

use crate::rollups::{ARCHITECTURES, PRICES, Totals, close, truth_of};
use crate::servers::{self, rt, url};
use crate::support::{from_sequence, large, root};
use logmeter::KinesisBatch;
use logmeter::samplegen::{Sample, Spec, generate, sparse};
use std::collections::BTreeMap;

/// The generator's clock starts at 1_795_131_600 (epoch seconds) and its samples span hours: queries are evaluated
/// two days later.
const AT: i64 = 1_795_131_600 + 2 * 86_400;

fn prometheus() -> String {
    url("LOGMETER_TEST_PROMETHEUS_URL")
}

#[test]
fn docs_document_every_metric() {
    let section = std::fs::read_to_string(root().join("docs/prometheus.md")).unwrap();
    for (name, _) in logmeter::output::prometheus::encode::METRICS {
        // `_sum` and `_count` of a histogram share a row: `name_sum`, `_count`.
        let short = name.rsplit_once('_').map(|(_, s)| format!("`_{s}`")).unwrap_or_default();
        let row =
            section.lines().find(|l| l.starts_with('|') && (l.contains(&format!("`{name}`")) || l.contains(&short)));
        assert!(row.is_some(), "{name} is not in docs/prometheus.md's metrics table");
    }
}

/// The PromQL of docs/prometheus.md, by the comment above each query.
fn readme_promql() -> BTreeMap<String, String> {
    let readme = std::fs::read_to_string(root().join("docs/prometheus.md")).unwrap();
    let block = readme.split("```promql\n").nth(1).unwrap().split("```").next().unwrap();
    let lines: Vec<&str> = block.lines().collect();
    lines.chunks(2).map(|p| (p[0].trim_start_matches("# ").to_owned(), p[1].to_owned())).collect()
}

fn curl(args: &[&str]) -> String {
    let out = std::process::Command::new("curl").arg("-sS").args(args).output().expect("curl");
    assert!(out.status.success(), "curl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Runs a PromQL query (instant at `at`, or a range query `(start, end, step)`), and sums each series' values by
/// the value of `label` (`""` for none).
fn query(expr: &str, at: i64, range: Option<(i64, i64, &str)>, label: &str) -> BTreeMap<String, f64> {
    let mut args = vec!["-G".to_owned(), "--data-urlencode".to_owned(), format!("query={expr}")];
    let path = match range {
        None => {
            args.extend(["--data-urlencode".to_owned(), format!("time={at}")]);
            "query"
        }
        Some((start, end, step)) => {
            for p in [format!("start={start}"), format!("end={end}"), format!("step={step}")] {
                args.extend(["--data-urlencode".to_owned(), p]);
            }
            "query_range"
        }
    };
    args.push(format!("{}/api/v1/{path}", prometheus()));
    let body: serde_json::Value =
        serde_json::from_str(&curl(&args.iter().map(String::as_str).collect::<Vec<_>>())).unwrap();
    assert_eq!(body["status"], "success", "{expr}: {body}");
    let mut out = BTreeMap::new();
    for series in body["data"]["result"].as_array().unwrap() {
        let key = series["metric"][label].as_str().unwrap_or_default().to_owned();
        let values = series.get("values").cloned().unwrap_or_else(|| serde_json::json!([series["value"]]));
        for v in values.as_array().unwrap() {
            *out.entry(key.clone()).or_insert(0.0) += v[1].as_str().unwrap().parse::<f64>().unwrap();
        }
    }
    out
}

/// Per function, what the queries of docs/prometheus.md say, evaluated over everything written (`$__range` = 30 days, at a day
/// after the samples' time).
fn totals(at: i64) -> BTreeMap<String, Totals> {
    let q = readme_promql();
    let over = |title: &str, label: &str| query(&q[title].replace("$__range", "30d"), at, None, label);
    let mut out: BTreeMap<String, Totals> = BTreeMap::new();
    for (f, n) in over("invocations per function", "faas_name") {
        out.entry(f).or_default().invocations = n as u64;
    }
    for (f, n) in over("cold starts per function", "faas_name") {
        out.entry(f).or_default().cold_starts = n as u64;
    }
    for (f, n) in over("GB-seconds per function", "faas_name") {
        out.entry(f).or_default().gb_seconds = n;
    }
    // Daily costs over the four days that end at `at`, added up.
    let daily = &q["cost per function per day (a range query with step 1d)"];
    for (f, usd) in query(daily, 0, Some((at - 3 * 86_400, at, "1d")), "faas_name") {
        out.entry(f).or_default().cost = usd;
    }
    let by_status = q["invocations per function and status"].replace("$__range", "30d");
    for status in ["success", "error", "timeout", "failure"] {
        let expr = by_status.replace("{job=\"logmeter\"}", &format!("{{job=\"logmeter\",status=\"{status}\"}}"));
        for (f, n) in query(&expr, at, None, "faas_name") {
            let i = ["success", "error", "timeout", "failure"].iter().position(|s| *s == status).unwrap();
            out.entry(f).or_default().statuses[i] = n as u64;
        }
    }
    out
}

fn plus(a: &BTreeMap<String, Totals>, b: &BTreeMap<String, Totals>) -> BTreeMap<String, Totals> {
    let mut out = a.clone();
    for (f, t) in b {
        let o = out.entry(f.clone()).or_default();
        o.invocations += t.invocations;
        o.cold_starts += t.cold_starts;
        o.gb_seconds += t.gb_seconds;
        o.cost += t.cost;
        (0..4).for_each(|i| o.statuses[i] += t.statuses[i]);
    }
    out
}

/// Compares per-function totals. With `split`, invocations were cut across Kinesis records: a timeout that an old
/// runtime tells only by a `Task timed out` line, which landed in another record than its REPORT, counts as a
/// success (docs/schema.md, `aws.lambda.status`), so success and timeout are compared as a sum, and
/// timeouts may only be fewer.
fn assert_same(got: &BTreeMap<String, Totals>, want: &BTreeMap<String, Totals>, what: &str, split: bool) {
    assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>(), "{what}: functions");
    for (f, w) in want {
        let g = &got[f];
        let statuses = |t: &Totals| {
            let [ok, error, timeout, failure] = t.statuses;
            if split { [ok + timeout, error, 0, failure] } else { t.statuses }
        };
        assert!(g.statuses[2] <= w.statuses[2], "{what}: {f} timeouts");
        assert_eq!(
            (g.invocations, g.cold_starts, statuses(g)),
            (w.invocations, w.cold_starts, statuses(w)),
            "{what}: {f}"
        );
        assert!(close(g.gb_seconds, w.gb_seconds), "{what}: {f} GB-seconds {} against {}", g.gb_seconds, w.gb_seconds);
        assert!(close(g.cost, w.cost), "{what}: {f} cost {} against {}", g.cost, w.cost);
    }
}

/// Prometheus's own counters of refused samples and failed remote writes.
fn refusals() -> BTreeMap<&'static str, f64> {
    let text = curl(&[&format!("{}/metrics", prometheus())]);
    let value = |prefix: &str, filter: &dyn Fn(&str) -> bool| -> f64 {
        text.lines()
            .filter(|l| l.starts_with(prefix) && filter(l))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    BTreeMap::from([
        ("out_of_order", value("prometheus_tsdb_out_of_order_samples_total", &|_| true)),
        ("too_old", value("prometheus_tsdb_too_old_samples_total", &|_| true)),
        ("out_of_bounds", value("prometheus_tsdb_out_of_bound_samples_total", &|_| true)),
        (
            "failed_writes",
            value("prometheus_http_requests_total", &|l| {
                l.contains("handler=\"/api/v1/write\"") && !l.contains("code=\"2")
            }),
        ),
    ])
}

fn settings(bucket: &str, endpoint: &str) -> Vec<(&'static str, String)> {
    let mut s: Vec<(&str, String)> = vec![
        ("INGEST_BUCKET_NAME", bucket.to_owned()),
        ("PROMETHEUS_REMOTE_WRITE_URL", endpoint.to_owned()),
        ("FUNCTION_ARCHITECTURES", ARCHITECTURES.into()),
    ];
    s.extend(PRICES.iter().map(|(k, v)| (*k, v.to_string())));
    s
}

fn batch_of(sample: &Sample) -> KinesisBatch {
    serde_json::from_str(&sample.event).unwrap()
}

/// The records of `batch` dealt alternately into two batches: each holds records of the same log streams,
/// functions and windows as the other.
fn interleaved(batch: &KinesisBatch) -> [KinesisBatch; 2] {
    let pick = |odd: usize| KinesisBatch {
        records: batch.records.iter().enumerate().filter(|(i, _)| i % 2 == odd).map(|(_, r)| r.clone()).collect(),
    };
    [pick(0), pick(1)]
}

/// The same records, as another shard would carry another execution environment's logs: every log stream renamed,
/// every log event at the same millisecond as its twin's. Undecodable records are left out.
fn twin_environments(batch: &KinesisBatch) -> KinesisBatch {
    use base64::Engine as _;
    use std::io::Read as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut records = Vec::new();
    for r in &batch.records {
        let Ok(gz) = b64.decode(&r.kinesis.data) else { continue };
        let mut json = String::new();
        if flate2::read::MultiGzDecoder::new(&gz[..]).read_to_string(&mut json).is_err() {
            continue;
        }
        let Ok(mut payload) = serde_json::from_str::<serde_json::Value>(&json) else { continue };
        let Some(stream) = payload["logStream"].as_str() else { continue };
        payload["logStream"] = format!("{stream}-twin").into();
        let mut twin = crate::support::record_with_data(
            &crate::support::gzip(payload.to_string().as_bytes()),
            &r.kinesis.sequence_number,
        );
        twin.event_id = format!("shardId-000000000009:{}", r.kinesis.sequence_number);
        twin.kinesis.approximate_arrival_timestamp = r.kinesis.approximate_arrival_timestamp;
        records.push(twin);
    }
    KinesisBatch { records }
}

#[test]
fn remote_write_totals_equal_the_ground_truth_after_retries_concurrency_and_a_spool_replay() {
    let rt = rt();
    let bucket = rt.block_on(servers::bucket());
    let write_url = format!("{}/api/v1/write", prometheus());
    let h = rt.block_on(servers::handler(&settings(&bucket, &write_url)));
    let before = refusals();
    let batch = batch_of(large());
    let at = AT;

    // The large sample: one remote write request (it is under the bounds).
    let out = rt.block_on(h.handle(&batch, None));
    assert!(out.response.batch_item_failures.is_empty());
    assert_eq!(out.summary.prometheus_requests, 1, "one request for the batch: {:?}", out.summary);
    assert_eq!((out.summary.prometheus_samples_rejected, out.summary.prometheus_samples_spooled), (0, 0));
    let mut want = truth_of(large());
    assert_same(&totals(at), &want, "large sample", false);

    // A retry from the middle, and of the whole batch: the same samples, dropped as duplicates.
    let middle = &batch.records[batch.records.len() / 2].kinesis.sequence_number;
    rt.block_on(h.handle(&from_sequence(&batch, middle), None));
    rt.block_on(h.handle(&batch, None));
    assert_same(&totals(at), &want, "after retries", false);

    // Two invocations at once, with the same log streams, functions and windows (a sparse stream dealt into two
    // batches, as two shards or ParallelizationFactor would).
    let busy = generate(&sparse());
    let [a, b] = interleaved(&batch_of(&busy));
    let other = rt.block_on(servers::handler(&settings(&bucket, &write_url)));
    let (x, y) = rt.block_on(async { tokio::join!(h.handle(&a, None), other.handle(&b, None)) });
    assert!(x.response.batch_item_failures.is_empty() && y.response.batch_item_failures.is_empty());
    want = plus(&want, &truth_of(&busy));
    assert_same(&totals(at), &want, "after two concurrent invocations", true);

    // Two invocations at once whose execution environments logged at the very same milliseconds (twins of the
    // large sample's on another shard): distinct series, so nothing is taken for a duplicate.
    let twins = twin_environments(&batch);
    let (x, y) = rt.block_on(async { tokio::join!(h.handle(&twins, None), other.handle(&batch, None)) });
    assert!(x.response.batch_item_failures.is_empty() && y.response.batch_item_failures.is_empty());
    want = plus(&want, &truth_of(large()));
    assert_same(&totals(at), &want, "after twin environments", true);

    // Prometheus down: the request is spooled and billing carries on; replaying the spool twice counts once.
    let closed = format!("http://127.0.0.1:{}/api/v1/write", free_port());
    let mut down_settings = settings(&bucket, &closed);
    down_settings.push(("PROMETHEUS_MAX_ATTEMPTS", "2".into()));
    let down = rt.block_on(servers::handler(&down_settings));
    let late = generate(&Spec { seed: 99, ..sparse() });
    let out = rt.block_on(down.handle(&batch_of(&late), None));
    assert!(out.response.batch_item_failures.is_empty(), "metrics never block billing");
    assert!(out.summary.prometheus_samples_spooled > 0 && out.summary.record_objects > 0, "{:?}", out.summary);
    let spooled: Vec<(String, Vec<u8>)> = rt
        .block_on(servers::objects(&bucket))
        .into_iter()
        .filter(|(k, _)| k.contains("/prometheus-spool/") && k.ends_with(".snappy"))
        .collect();
    assert_eq!(spooled.len(), 1, "one request spooled");
    // The spooled request is a remote write request as it is: `curl` sends it once, `logmeter replay` once more.
    let file = std::env::temp_dir().join(format!("logmeter-spool-{}.snappy", std::process::id()));
    std::fs::write(&file, &spooled[0].1).unwrap();
    let code = curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-H",
        "Content-Encoding: snappy",
        "-H",
        "Content-Type: application/x-protobuf",
        "-H",
        "X-Prometheus-Remote-Write-Version: 0.1.0",
        "--data-binary",
        &format!("@{}", file.display()),
        &write_url,
    ]);
    assert_eq!(code, "204");
    let replay = std::process::Command::new(env!("CARGO_BIN_EXE_logmeter"))
        .arg("replay")
        .envs([
            ("AWS_ENDPOINT_URL", servers::s3()),
            ("AWS_REGION", "eu-west-1".into()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("INGEST_BUCKET_NAME", bucket.clone()),
            ("PROMETHEUS_REMOTE_WRITE_URL", write_url.clone()),
        ])
        .envs(PRICES.iter().map(|(k, v)| (*k, v.to_string())))
        .env("FUNCTION_ARCHITECTURES", ARCHITECTURES)
        .output()
        .unwrap();
    assert!(replay.status.success(), "{}", String::from_utf8_lossy(&replay.stderr));
    let replayed: serde_json::Value = serde_json::from_slice(&replay.stdout).unwrap();
    assert_eq!(replayed["replayed_prometheus_requests"], 1, "{replayed}");
    want = plus(&want, &truth_of(&late));
    assert_same(&totals(at), &want, "after replaying a spool twice", true);

    // p99 per function from the docs' query lies in the bucket that holds the true p99.
    let q = readme_promql();
    let p99 = query(&q["p99 duration per function, seconds"].replace("$__range", "30d"), at, None, "faas_name");
    let all: Vec<&logmeter::samplegen::ExpectedReport> =
        [large(), &busy, &late].into_iter().flat_map(|s| s.truth.reports.iter()).collect();
    for (f, got) in &p99 {
        let mut d: Vec<f64> =
            all.iter().filter(|r| &r.function_name == f).filter_map(|r| r.duration_ms).map(|ms| ms / 1000.0).collect();
        d.sort_by(f64::total_cmp);
        let exact = d[((0.99 * d.len() as f64).ceil() as usize).saturating_sub(1)];
        let bounds: Vec<f64> = logmeter::plan::rollup::DURATION_BUCKETS.iter().map(|(ms, _)| ms / 1000.0).collect();
        let upper = bounds.iter().copied().find(|b| *b >= exact).unwrap_or(f64::INFINITY);
        let lower = bounds.iter().copied().rev().find(|b| *b < exact).unwrap_or(0.0);
        assert!(*got >= lower && *got <= upper, "{f}: p99 {got} outside the true p99's bucket ({lower}, {upper}]");
    }
    assert_eq!(p99.len(), want.len(), "a p99 for every function");

    // No sample was refused by Prometheus along the way.
    assert_eq!(refusals(), before, "Prometheus refused nothing");

    // Every metric Prometheus received is one of the documented ones.
    let names: serde_json::Value =
        serde_json::from_str(&curl(&[&format!("{}/api/v1/label/__name__/values", prometheus())])).unwrap();
    let documented: Vec<&str> = logmeter::output::prometheus::encode::METRICS.iter().map(|(n, _)| *n).collect();
    for name in names["data"].as_array().unwrap().iter().filter_map(|n| n.as_str()) {
        assert!(documented.contains(&name), "{name} is sent but not in plan::prometheus::METRICS");
    }

    refused_samples_are_quarantined_with_the_answer_and_never_retried(&rt, &bucket);
}

/// Samples older than Prometheus takes (its head holds the samples' time, after the scenarios above) are
/// quarantined with the answer and never retried.
fn refused_samples_are_quarantined_with_the_answer_and_never_retried(rt: &tokio::runtime::Runtime, bucket: &str) {
    let h = rt.block_on(servers::handler(&settings(bucket, &format!("{}/api/v1/write", prometheus()))));
    // A REPORT logged 90 days before the samples: outside the 30-day out-of-order window.
    let old = 1_795_131_600_000_i64 - 90 * 86_400_000;
    let report = "REPORT RequestId: 6f1b0f7e-0000-4000-8000-000000000001\tDuration: 12.50 ms\tBilled Duration: 13 ms\tMemory Size: 512 MB\tMax Memory Used: 80 MB\t\n";
    let payload = serde_json::json!({"messageType": "DATA_MESSAGE", "owner": "123456789012",
        "logGroup": "/aws/lambda/ancient", "logStream": "2026/08/22/[$LATEST]00000000000000000000000000000001",
        "subscriptionFilters": ["f"], "logEvents": [{"id": "1", "timestamp": old, "message": report}]});
    let record = crate::support::record_with_data(&crate::support::gzip(payload.to_string().as_bytes()), "7");
    let before = refusals();
    let out = rt.block_on(h.handle(&KinesisBatch { records: vec![record] }, None));
    assert!(out.response.batch_item_failures.is_empty(), "a refusal is not retried by Lambda either");
    assert!(out.summary.prometheus_samples_rejected > 0, "{:?}", out.summary);
    let after = refusals();
    assert_eq!(after["failed_writes"] - before["failed_writes"], 1.0, "asked once, never again");
    let kept: Vec<serde_json::Value> = rt
        .block_on(servers::objects(bucket))
        .into_iter()
        .filter(|(k, _)| k.contains("/prometheus-rejected/"))
        .map(|(_, v)| serde_json::from_slice(&v).unwrap())
        .collect();
    assert_eq!(kept.len(), 1);
    let reason = kept[0]["reason"].as_str().unwrap();
    assert!(reason.contains("too old") || reason.contains("out of bounds"), "{reason}");
    assert_eq!(kept[0]["samples"], out.summary.prometheus_samples_rejected);
    assert!(!kept[0]["body_base64"].as_str().unwrap().is_empty(), "the request is kept for replay");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `name{…,faas_name="f",…} value` lines of `metric` in a `/metrics` page, added up per function.
fn pushed(text: &str, metric: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with(&format!("{metric}{{"))) {
        let name = line.split("faas_name=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
        *out.entry(name).or_insert(0.0) += line.rsplit(' ').next().unwrap().parse::<f64>().unwrap();
    }
    out
}

#[test]
fn pushgateway_groups_per_record_add_up_to_the_ground_truth_with_concurrency_and_retries() {
    let rt = rt();
    let bucket = rt.block_on(servers::bucket());
    let gateway = url("LOGMETER_TEST_PUSHGATEWAY_URL");
    let mut s = settings(&bucket, "");
    s.retain(|(k, _)| *k != "PROMETHEUS_REMOTE_WRITE_URL");
    s.push(("PROMETHEUS_PUSHGATEWAY_URL", gateway.clone()));
    let (h, other) = (rt.block_on(servers::handler(&s)), rt.block_on(servers::handler(&s)));
    let sample = generate(&Spec { seed: 7_0707, ..sparse() });
    let batch = batch_of(&sample);
    let [a, b] = interleaved(&batch);
    let (x, y) = rt.block_on(async { tokio::join!(h.handle(&a, None), other.handle(&b, None)) });
    assert!(x.response.batch_item_failures.is_empty() && y.response.batch_item_failures.is_empty());
    let groups = x.summary.prometheus_requests + y.summary.prometheus_requests;
    // The whole batch again, as a retry: each group is replaced with the same figures.
    rt.block_on(h.handle(&batch, None));
    let text = curl(&[&format!("{gateway}/metrics")]);
    let truth = truth_of(&sample);
    let invocations = pushed(&text, "faas_invocations_total");
    let gb = pushed(&text, "aws_lambda_billed_gb_seconds_total");
    assert_eq!(invocations.keys().collect::<Vec<_>>(), truth.keys().collect::<Vec<_>>());
    for (f, t) in &truth {
        assert_eq!(invocations[f] as u64, t.invocations, "{f}");
        assert!(close(gb[f], t.gb_seconds), "{f}: {} against {}", gb[f], t.gb_seconds);
    }
    let cold: u64 = pushed(&text, "faas_coldstarts_total").values().map(|v| *v as u64).sum();
    assert_eq!(cold, truth.values().map(|t| t.cold_starts).sum::<u64>());
    let records = text.lines().filter(|l| l.starts_with("push_time_seconds{")).count();
    assert_eq!(records, groups, "one group per record with reports, none replaced by another");
}

#[test]
fn process_out_writes_remote_write_requests_that_rerun_byte_identical() {
    let dir = crate::support::tempdir("prometheus-out");
    let run = || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_logmeter"))
            .args(["process", "samples/events/small.json", "--out"])
            .arg(&dir)
            .current_dir(root())
            .env("PROMETHEUS_REMOTE_WRITE_URL", "http://127.0.0.1:1/api/v1/write")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        crate::support::summary_of(&out)
    };
    let summary = run();
    let files: BTreeMap<String, Vec<u8>> =
        crate::support::snapshot(&dir).into_iter().filter(|(k, _)| k.starts_with("prometheus-remote-write/")).collect();
    assert_eq!(files.len(), 1, "one request for the batch: {:?}", files.keys());
    assert_eq!(summary["prometheus_requests"], 1);
    let body = snap::raw::Decoder::new().decompress_vec(files.values().next().unwrap()).unwrap();
    // A snappy-compressed protobuf that names every function of the sample.
    let small: Sample = generate(&logmeter::samplegen::small());
    let text = String::from_utf8_lossy(&body);
    for f in truth_of(&small).keys() {
        assert!(text.contains(f.as_str()), "{f} in the request");
    }
    let again = run();
    assert_eq!(again["prometheus_requests"], 1);
    let rerun: BTreeMap<String, Vec<u8>> =
        crate::support::snapshot(&dir).into_iter().filter(|(k, _)| k.starts_with("prometheus-remote-write/")).collect();
    assert_eq!(rerun, files, "a rerun leaves the requests byte-identical");
}

/// Accepts one HTTP request on a local port, answers 204, and hands back the request's head (lower-cased).
fn capture_one() -> (String, std::thread::JoinHandle<String>) {
    use std::io::{BufRead as _, Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api/v1/write", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
        let mut head = String::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" || line.is_empty() {
                break;
            }
            head.push_str(&line.to_ascii_lowercase());
        }
        let length: usize =
            head.lines().find_map(|l| l.strip_prefix("content-length: ")).map_or(0, |n| n.trim().parse().unwrap());
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        (&stream).write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n").unwrap();
        head
    });
    (url, handle)
}

#[test]
fn remote_write_requests_carry_the_protocol_headers_and_each_authentication() {
    let rt = rt();
    let bucket = rt.block_on(servers::bucket());
    let batch = KinesisBatch { records: batch_of(&generate(&logmeter::samplegen::small())).records };
    let cases: [(&[(&str, &str)], &str); 3] = [
        (
            &[("PROMETHEUS_USERNAME", "metrics"), ("PROMETHEUS_PASSWORD", "hunter2")],
            "authorization: basic bwv0cmljczpodw50zxiy",
        ),
        (&[("PROMETHEUS_BEARER_TOKEN", "t0ken")], "authorization: bearer t0ken"),
        (&[("PROMETHEUS_SIGV4_REGION", "us-west-2")], "/us-west-2/aps/aws4_request"),
    ];
    for (auth, want) in cases {
        let (url, request) = capture_one();
        let mut s = settings(&bucket, &url);
        s.extend(auth.iter().map(|(k, v)| (*k, v.to_string())));
        let h = rt.block_on(servers::handler(&s));
        let out = rt.block_on(h.handle(&batch, None));
        assert_eq!((out.summary.prometheus_requests, out.summary.prometheus_samples_spooled), (1, 0));
        let head = request.join().unwrap();
        assert!(head.starts_with("post /api/v1/write "), "{head}");
        for header in [
            "content-encoding: snappy",
            "content-type: application/x-protobuf",
            "x-prometheus-remote-write-version: 0.1.0",
            want,
        ] {
            assert!(head.contains(header), "{header} in {head}");
        }
    }
}
