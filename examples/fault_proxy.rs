//! The fault proxy of the integration tests (`tests/it/proxy.rs`) as a program, for `benches/requests.sh`: forwards
//! a loopback port to an upstream server with a latency added to every request, and counts requests by kind
//! (`GET /__proxy/counts` answers them as JSON, `POST /__proxy/reset` forgets them).
//!
//! `cargo run --release --example fault_proxy -- http://127.0.0.1:PORT LATENCY_MS` prints its URL, then serves
//! until killed.
#![allow(clippy::expect_used, clippy::unwrap_used)]

#[allow(dead_code)]
#[path = "../tests/it/proxy.rs"]
mod proxy;

fn main() {
    let mut args = std::env::args().skip(1);
    let upstream = args.next().expect("usage: fault_proxy UPSTREAM_URL LATENCY_MS");
    let latency: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(0);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let proxy = proxy::Proxy::start(&upstream).await;
        proxy.set_latency(std::time::Duration::from_millis(latency));
        println!("{}", proxy.url);
        std::future::pending::<()>().await;
    });
}
