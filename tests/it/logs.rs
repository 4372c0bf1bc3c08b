//! The function's own log group may be subscribed by mistake: its logs must never carry the meter tag or record
//! contents (they would be billed again), nor any secret.

use crate::support::sample;
use std::sync::{Arc, Mutex};

#[derive(Clone)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn logs_never_carry_the_tag_record_contents_or_secrets() {
    let captured = Capture(Arc::new(Mutex::new(Vec::new())));
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .json()
        .with_writer(move || writer.clone())
        .finish();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    tracing::subscriber::with_default(subscriber, || {
        let settings = [
            ("INGEST_BUCKET_NAME", "logs-test".to_owned()),
            ("S3_MAX_ATTEMPTS", "1".to_owned()),
            ("SEARCH_URL", "http://127.0.0.1:9".to_owned()),
            ("SEARCH_USERNAME", "metrics".to_owned()),
            ("SEARCH_PASSWORD", "hunter2-do-not-log".to_owned()),
        ];
        // S3 on a closed port: every delivery fails and is logged with its reason.
        let h = rt.block_on(crate::servers::handler_on("http://127.0.0.1:9", "AKIATESTKEY", &settings));
        let out = rt.block_on(h.handle(&sample("small"), None));
        assert_eq!(out.response.batch_item_failures.len(), 1);
    });
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("delivery failed"), "the failure is logged: {text}");
    assert!(text.contains("configured"), "start-up is logged");
    for forbidden in ["meter_record_for_stream", "customerId", "meterApiName", "hunter2-do-not-log", "secret-for-tests"]
    {
        assert!(!text.contains(forbidden), "logs contain {forbidden:?}");
    }
}
