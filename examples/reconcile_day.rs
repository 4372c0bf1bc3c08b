//! Writes a day of invocation and reconciliation documents into `DIR/search-bulk/` as `logmeter process --out DIR` would, for
//! measuring `logmeter reconcile` and `logmeter report` at scale (BENCHMARKS.md):
//! `cargo run --release --example reconcile_day -- DIR 1000000`. Two thirds of the invocations meter one or two
//! records, for 2,000 customers over 20 functions; documents are written in the encoder's own format.

use logmeter::output::search::reconcile_docs::{JoinDoc, JoinKind};
use std::io::Write;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().unwrap_or_else(|| "reconcile-day".into()));
    let n: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let folder = dir.join("search-bulk/shardId-000000000000");
    std::fs::create_dir_all(&folder)?;
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let day_ms = 1_795_046_400_000_i64; // 2026-11-19T00:00:00Z
    let (mut file, mut part, mut in_file) = (None::<std::io::BufWriter<std::fs::File>>, 0, 0);
    let mut write = |doc: &JoinDoc| -> std::io::Result<()> {
        if file.is_none() || in_file >= 10_000 {
            part += 1;
            in_file = 0;
            file = Some(std::io::BufWriter::new(std::fs::File::create(folder.join(format!("{part:08}.ndjson")))?));
        }
        let Some(f) = file.as_mut() else { return Err(std::io::Error::other("no file open")) };
        // An invocation is its invocation document; a meter record its reconciliation document.
        let (index, body) = if doc.kind == JoinKind::Invocation {
            ("logmeter-metrics-2026.11.19", report_doc(doc))
        } else {
            ("logmeter-reconcile-2026.11.19", serde_json::to_vec(doc)?)
        };
        writeln!(f, "{{\"create\":{{\"_index\":\"{index}\",\"_id\":\"{}\"}}}}", doc.join_id)?;
        f.write_all(&body)?;
        writeln!(f)?;
        in_file += 1;
        Ok(())
    };
    for i in 0..n {
        let t = day_ms + (i as i64 * 86_400_000) / n as i64;
        let ts =
            chrono::DateTime::from_timestamp_millis(t).unwrap_or_default().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
        let function = format!("function-{:02}", next() % 20);
        let stream = format!("2026/11/19/[$LATEST]{:032x}", next() % 50_000);
        let request = format!("{:08x}-0000-4000-8000-{:012x}", i, next() % (1 << 48));
        let base = JoinDoc {
            timestamp: ts,
            kind: JoinKind::Invocation,
            join_id: format!("i-{i}"),
            function,
            version: "$LATEST".into(),
            log_stream: stream,
            request_id: Some(request),
            tenant_id: None,
            status: Some(if next() % 50 == 0 { "error" } else { "success" }.into()),
            cold_start: Some(next() % 100 == 0),
            duration_ms: Some((next() % 3_000) as f64 + 0.5),
            billed_gb_seconds: Some((next() % 3_000) as f64 / 1000.0 * 0.5),
            cost_usd: Some(0.0000002 + (next() % 3_000) as f64 / 1000.0 * 0.5 * 0.0000166667),
            customer_id: None,
            meter_api_name: None,
            meter_value: None,
            plan: None,
            oom_suspected: None,
            phase: None,
        };
        write(&base)?;
        let meters = match next() % 3 {
            0 => 0,
            1 => 1,
            _ => 2,
        };
        for m in 0..meters {
            let doc = JoinDoc {
                kind: JoinKind::Meter,
                join_id: format!("m-{i}-{m}"),
                status: None,
                cold_start: None,
                duration_ms: None,
                billed_gb_seconds: None,
                cost_usd: None,
                customer_id: Some(format!("c-{:04}", next() % 2_000)),
                meter_api_name: Some(["api-calls", "storage-gb-hours", "search-queries"][(next() % 3) as usize].into()),
                meter_value: Some((next() % 100) as f64),
                ..base.clone()
            };
            write(&doc)?;
        }
    }
    eprintln!("wrote {n} invocations into {}", dir.display());
    Ok(())
}

/// The invocation document of `doc`, with the fields the join reads, as the encoder writes them.
fn report_doc(doc: &JoinDoc) -> Vec<u8> {
    serde_json::json!({
        "@timestamp": doc.timestamp,
        "event": {"dataset": "aws.lambda.report"},
        "faas": {"name": doc.function, "version": doc.version, "invocation_id": doc.request_id,
            "coldstart": doc.cold_start},
        "aws": {"cloudwatch": {"log_group": format!("/aws/lambda/{}", doc.function), "log_stream": doc.log_stream},
            "lambda": {"status": doc.status, "duration_ms": doc.duration_ms, "billed_gb_seconds": doc.billed_gb_seconds,
                "estimated_cost_usd": doc.cost_usd}},
    })
    .to_string()
    .into_bytes()
}
