//! The Lambda entry point: configuration and sinks built once at cold start, then the shared handler for every
//! Kinesis batch.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use logmeter::sink::LocalDir;
use logmeter::{Handler, KinesisBatch, Pipeline, PipelineConfig};
use std::time::{Instant, SystemTime};

#[tokio::main]
async fn main() -> Result<(), Error> {
    logmeter::telemetry::init_lambda();
    let config = PipelineConfig::from_lookup(|k| std::env::var(k).ok())?;
    // Until the S3 and search sinks are configured, deliveries go to a local directory (useful under
    // `cargo lambda watch`).
    let dir = std::env::var("LOGMETER_LOCAL_DIR").unwrap_or_else(|_| "/tmp/logmeter".into());
    let handler = Handler::new(
        Pipeline::new(config),
        LocalDir::new(&dir),
        Some(LocalDir::new(&dir)),
    );
    let handler = &handler;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<KinesisBatch>| async move {
            let left = event
                .context
                .deadline()
                .duration_since(SystemTime::now())
                .unwrap_or_default();
            let outcome = handler
                .handle(&event.payload, Some(Instant::now() + left))
                .await;
            tracing::info!(summary = ?outcome.summary, "batch done");
            Ok::<_, Error>(outcome.response)
        },
    ))
    .await
}
