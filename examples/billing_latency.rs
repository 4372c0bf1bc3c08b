//! Invocation time with each billing platform, every request taking 30 ms more: a stand-in endpoint on 127.0.0.1
//! answers each platform's path after the delay (it checks nothing: the billing tests' faithful server does that),
//! and the ingest bucket and the ledger are in memory with the same delay per call. Medians of `N` invocations on
//! a fresh handler and stores each, against the same handler without billing platforms (the baseline, measured in
//! the same run).
//!
//! `cargo run --release --example billing_latency -- N`

use logmeter::sink::MemorySink;
use logmeter::{Handler, KinesisBatch, PipelineConfig};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const LATENCY: Duration = Duration::from_millis(30);

/// Answers every request with 200 after [`LATENCY`] (204 for OpenMeter's path, as OpenMeter does).
async fn stand_in() -> std::io::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = vec![0u8; 65536];
                let head_end = loop {
                    let n = conn.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                while buf.len() < head_end + length {
                    let n = conn.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                tokio::time::sleep(LATENCY).await;
                let status = if head.contains("/api/v1/events") { "204 No Content" } else { "200 OK" };
                let answer = format!("HTTP/1.1 {status}\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{{}}");
                let _ = conn.write_all(answer.as_bytes()).await;
            });
        }
    });
    Ok(url)
}

fn handler(url: &str, platforms: &str) -> Result<Handler, logmeter::config::ConfigError> {
    let lookup = |k: &str| -> Option<String> {
        match k {
            "BILLING_PLATFORMS" => Some(platforms.to_owned()),
            "STRIPE_VALUE_SCALE" => {
                Some("api-calls=100,search-queries=100,storage-gb-hours=100,ledger-entries=100".to_owned())
            }
            k if k.ends_with("_API_URL") => Some(url.to_owned()),
            k if k.ends_with("_API_KEY") => Some("bench".to_owned()),
            _ => None,
        }
    };
    let config = PipelineConfig::from_lookup(lookup)?;
    let store = || {
        let s = Arc::new(MemorySink::new());
        s.set_latency(LATENCY);
        s
    };
    let stores = logmeter::output::Stores {
        ingest: store(),
        quarantine: store(),
        search: None::<MemorySink>,
        spool: false,
        prometheus: None::<(logmeter::output::prometheus::PrometheusConfig, logmeter::sink::LocalDir)>,
        billing: logmeter::output::billing::Stores {
            reach: logmeter::output::billing::Reach::Http {
                sdk: Box::new(aws_config::SdkConfig::builder().build()),
                secrets_endpoint: None,
            },
            ledger: Some(store()),
            clock: logmeter::output::billing::Clock::default(),
        },
    };
    Ok(Handler::assemble(config, stores))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args().nth(1).map_or(Ok(5), |a| a.parse())?;
    let rt = tokio::runtime::Runtime::new()?;
    let url = rt.block_on(stand_in())?;
    println!("machine: {} cores; {n} invocations each, medians; every request +{} ms", num_cpus(), LATENCY.as_millis());
    for sample in ["sparse", "large"] {
        let batch: KinesisBatch = serde_json::from_slice(&std::fs::read(format!("samples/events/{sample}.json"))?)?;
        let mut baseline = 0.0;
        for platforms in ["", "stripe", "metronome", "openmeter", "amberflo", "metronome,openmeter,amberflo"] {
            let mut times = Vec::with_capacity(n);
            let mut requests = 0;
            for _ in 0..n {
                let h = handler(&url, platforms)?;
                let start = Instant::now();
                let out = rt.block_on(h.handle(&batch, None));
                times.push(start.elapsed().as_secs_f64() * 1000.0);
                requests = out.summary.outputs.iter().map(|(_, c)| c.requests).sum::<usize>();
                if !out.response.batch_item_failures.is_empty() {
                    return Err(format!("{platforms}: records reported for retry: {:?}", out.summary).into());
                }
            }
            times.sort_by(f64::total_cmp);
            let median = times[n / 2];
            if platforms.is_empty() {
                baseline = median;
            }
            let name = if platforms.is_empty() { "(none: baseline)" } else { platforms };
            println!(
                "{sample:6} {name:30} median {median:8.1} ms  {:5.2}×  billing requests {requests}",
                median / baseline
            );
        }
    }
    Ok(())
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
