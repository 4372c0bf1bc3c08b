//! `logmeter backfill` against moto's CloudWatch Logs: pages read through FilterLogEvents with the subscription's
//! filter pattern, throttling (503s from the fault proxy) retried, a run stopped after one page and resumed from
//! its checkpoint, a repeat that writes nothing, and the progress line only on a terminal.

use crate::proxy::{Fault, Proxy};
use crate::servers::{self, unique};
use crate::support::{billed, canonical_meter, root, snapshot, tempdir};
use std::path::Path;

const INVOCATIONS: usize = 7;

/// A log group with a Node.js function's invocations, each metering one record, plus lines the pattern leaves out;
/// returns the meter records, canonical and sorted.
fn log_group(group: &str, now: i64) -> Vec<String> {
    let rt = servers::rt();
    rt.block_on(async {
        let sdk = servers::sdk(&servers::s3(), "test").await;
        let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk);
        logs.create_log_group().log_group_name(group).send().await.unwrap();
        let stream = "2026/12/06/[$LATEST]0123456789abcdef0123456789abcdef";
        logs.create_log_stream().log_group_name(group).log_stream_name(stream).send().await.unwrap();
        let mut want = Vec::new();
        let mut events = Vec::new();
        for i in 0..INVOCATIONS {
            let rid = format!("7c0e5a52-1111-4b3d-a6c9-2f6a3a4d2f{i:02}");
            let record = serde_json::json!({"customerId": format!("c-{i}"), "meterApiName": "api-calls",
                "meterValue": i + 1, "meterTimeInMillis": now + i as i64});
            want.push(canonical_meter(record.to_string().as_bytes()));
            let lines = [
                format!("START RequestId: {rid} Version: $LATEST\n"),
                format!("2026-12-06T10:00:0{}.000Z\t{rid}\tINFO\tmeter_record_for_stream {record}\n", i % 10),
                format!("2026-12-06T10:00:0{}.000Z\t{rid}\tINFO\tunrelated line\n", i % 10),
                format!("REPORT RequestId: {rid}\tDuration: 12.5 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 40 MB\t\n"),
            ];
            for (j, m) in lines.into_iter().enumerate() {
                events.push(
                    aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                        .timestamp(now + (i * 10 + j) as i64)
                        .message(m)
                        .build()
                        .unwrap(),
                );
            }
        }
        logs.put_log_events().log_group_name(group).log_stream_name(stream).set_log_events(Some(events)).send().await.unwrap();
        want.sort();
        want
    })
}

fn backfill(
    endpoint: &str,
    group: &str,
    now: i64,
    dir: &Path,
    extra: &[&str],
    tty: bool,
) -> (serde_json::Value, String) {
    let iso = |ms: i64| chrono::DateTime::from_timestamp_millis(ms).unwrap().to_rfc3339();
    let mut args: Vec<String> =
        ["backfill", "--log-group", group, "--start", &iso(now - 3_600_000), "--end", &iso(now + 3_600_000)]
            .iter()
            .map(|s| s.to_string())
            .collect();
    args.extend([
        "--out".into(),
        dir.display().to_string(),
        "--checkpoint".into(),
        dir.join("checkpoint.json").display().to_string(),
    ]);
    args.extend(["--page-size".into(), "3".into(), "--max-rps".into(), "50".into()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    let env = [
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ];
    let bin = env!("CARGO_BIN_EXE_logmeter");
    let out = if tty {
        // Under a pseudo-terminal (util-linux `script`): stdout and stderr arrive together.
        let quoted: Vec<String> = std::iter::once(bin.to_owned()).chain(args).map(|a| format!("'{a}'")).collect();
        std::process::Command::new("script")
            .args(["-qec", &quoted.join(" "), "/dev/null"])
            .envs(env)
            .current_dir(root())
            .output()
            .unwrap()
    } else {
        std::process::Command::new(bin).args(&args).envs(env).current_dir(root()).output().unwrap()
    };
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .unwrap_or_else(|| panic!("no summary: {stdout}"));
    (serde_json::from_str(line.trim()).unwrap(), if tty { stdout } else { stderr })
}

/// What FilterLogEvents matches with the default pattern over the test's range, every page read (moto may apply
/// less of the pattern than CloudWatch Logs does; the pipeline reads only what it knows either way).
fn matched(group: &str, now: i64) -> u64 {
    servers::rt().block_on(async {
        let logs = aws_sdk_cloudwatchlogs::Client::new(&servers::sdk(&servers::s3(), "test").await);
        let (mut n, mut token) = (0, None);
        loop {
            let page = logs
                .filter_log_events()
                .log_group_name(group)
                .start_time(now - 3_600_000)
                .end_time(now + 3_600_000 - 1)
                .filter_pattern(logmeter::backfill::DEFAULT_FILTER_PATTERN)
                .set_next_token(token)
                .send()
                .await
                .unwrap();
            n += page.events().len() as u64;
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                return n;
            }
        }
    })
}

#[test]
fn backfill_pages_resumes_survives_throttling_and_bills_each_record_once() {
    let rt = servers::rt();
    let proxy = rt.block_on(Proxy::start(&servers::s3()));
    let group = format!("/aws/lambda/{}", unique("backfill"));
    let now = chrono::Utc::now().timestamp_millis() - 600_000;
    let want = log_group(&group, now);
    let dir = tempdir("backfill");

    // One page only, through two throttled answers: stopped, resumable.
    proxy.set(Fault::StatusFirst { n: 2, status: 503 });
    let (first, progress) = backfill(&proxy.url, &group, now, &dir, &["--max-pages", "1"], false);
    assert_eq!((first["pages"].as_u64(), first["complete"].as_bool()), (Some(1), Some(false)), "{first}");
    assert!(proxy.faults.load(std::sync::atomic::Ordering::SeqCst) >= 2, "the throttled requests were retried");
    assert!(!progress.contains("ETA"), "no progress line without a terminal: {progress}");

    // The rest, from the checkpoint: every event FilterLogEvents matches, read once across the two runs.
    let (rest, _) = backfill(&proxy.url, &group, now, &dir, &[], false);
    assert_eq!(rest["complete"], true, "{rest}");
    let read = first["events_read"].as_u64().unwrap() + rest["events_read"].as_u64().unwrap();
    assert_eq!(read, matched(&group, now), "no page lost or read twice");
    assert!(rest["pages"].as_u64().unwrap() >= 4, "pages of three events: {rest}");
    assert_eq!(billed(&snapshot(&dir)), want, "every meter record once");
    let reports: u64 = first["reports"].as_u64().unwrap() + rest["reports"].as_u64().unwrap();
    assert_eq!(reports, INVOCATIONS as u64);

    // Done: a repeat reads nothing and writes nothing.
    let before = snapshot(&dir);
    let (again, _) = backfill(&proxy.url, &group, now, &dir, &[], false);
    assert_eq!(again["pages"], 0);
    assert_eq!(snapshot(&dir), before);

    // From scratch into the same directory (a new checkpoint): the same objects and documents, nothing twice.
    std::fs::remove_file(dir.join("checkpoint.json")).unwrap();
    let (scratch, progress) = backfill(&proxy.url, &group, now, &dir, &[], true);
    assert_eq!(scratch["complete"], true);
    assert_eq!(billed(&snapshot(&dir)), want, "a second backfill bills nothing twice");
    assert!(progress.contains("events") && progress.contains("ETA"), "a progress line on a terminal: {progress}");
}
