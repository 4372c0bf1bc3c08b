//! The Lambda entry point: configuration and clients built once at cold start, then the shared handler for every
//! Kinesis batch, with the counters as CloudWatch Embedded Metric Format.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use logmeter::event::LambdaInput;
use logmeter::output::search::SearchMirror;
use logmeter::output::search::client::SearchHttp;
use logmeter::reconcile::scheduled::{Task, emf_lines, run};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

/// The mirror scheduled reconciliations read from and write to, when a mirror is configured.
fn task_mirror(sdk: &aws_config::SdkConfig) -> Option<SearchMirror> {
    let search = logmeter::startup::settings(|k| std::env::var(k).ok()).ok()?.search?;
    let secrets =
        std::env::var("AWS_ENDPOINT_URL_SECRETS_MANAGER").ok().or_else(|| sdk.endpoint_url().map(str::to_owned));
    let http = SearchHttp::new(&search, sdk.clone(), secrets);
    Some(logmeter::reconcile::scheduled::results_mirror(&search, http))
}

/// Runs a scheduled task: the reconciliation of the last whole window, its results written to the mirror, and
/// `UnmeteredInvocations` as EMF.
async fn task(raw: &serde_json::value::RawValue, mirror: Option<&SearchMirror>) -> Result<(), Error> {
    let task: Task = serde_json::from_str(raw.get()).map_err(|e| format!("not a logmeter task: {e}"))?;
    let mirror = mirror.ok_or("a scheduled reconciliation needs the search mirror (SEARCH_URL)")?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    let price_book = logmeter::reconcile::scheduled::price_book(None)?;
    let (outcome, window) = run(&task.reconcile, mirror, price_book.as_ref(), now).await?;
    for line in emf_lines(&outcome, now) {
        println!("{line}");
    }
    tracing::info!(from = window.from_ms, to = window.to_ms, unmetered = outcome.unmetered, orphans = ?outcome.orphans, cost_usd = outcome.ledger.total_cost_usd, "reconciled");
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    logmeter::telemetry::init_lambda();
    let sdk = logmeter::aws::sdk_config().await;
    let handler = match logmeter::startup::aws_handler(|k| std::env::var(k).ok(), &sdk).await {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(error = %e, "cannot start");
            return Err(e.into());
        }
    };
    // Built once and kept for the life of the process, so every concurrent invocation shares them.
    let handler: &'static _ = Box::leak(Box::new(handler));
    let mirror: &'static _ = Box::leak(Box::new(task_mirror(&sdk)));
    let function: &'static str =
        Box::leak(std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_default().into_boxed_str());
    // On Lambda Managed Instances (AWS_LAMBDA_MAX_CONCURRENCY > 1) several invocations run at once in this process;
    // the handler is shared and holds no per-invocation state. Elsewhere this runs one invocation at a time.
    lambda_runtime::run_concurrent(service_fn(move |event: LambdaEvent<LambdaInput>| async move {
        if let Some(raw) = &event.payload.task {
            task(raw, mirror.as_ref()).await?;
            return Ok(aws_lambda_events::event::streams::KinesisEventResponse::default());
        }
        // Lambda sends the deadline as epoch milliseconds. Local emulators may send none (0) or a relative
        // timeout (`cargo lambda watch` sends 600000): anything before 2001 cannot be a deadline, so none applies.
        let deadline = (event.context.deadline > 1_000_000_000_000)
            .then(|| Instant::now() + event.context.deadline().duration_since(SystemTime::now()).unwrap_or_default());
        tracing::info!(
            records = event.payload.batch.records.len(),
            deadline_ms = event.context.deadline,
            ms_left = deadline.map(|d| d.saturating_duration_since(Instant::now()).as_millis() as u64),
            "invocation"
        );
        let outcome = handler.handle(&event.payload.batch, deadline).await;
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
        let oldest =
            event.payload.batch.records.iter().map(|r| r.arrival_millis()).filter(|&t| t > 0).min().unwrap_or(now);
        println!("{}", logmeter::telemetry::emf_line(&outcome.summary, function, now, now - oldest));
        for line in logmeter::telemetry::output_emf_lines(&outcome.summary, function, now) {
            println!("{line}");
        }
        tracing::info!(summary = ?outcome.summary, "batch done");
        Ok::<_, Error>(outcome.response)
    }))
    .await
}
