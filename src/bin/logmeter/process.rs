//! `logmeter process`: the Lambda's handler over event files, into a directory or where the Lambda delivers; and
//! the handlers the other commands share.

use crate::error::CliError;
use logmeter::sink::LocalDir;
use logmeter::{Handler, KinesisBatch, PipelineConfig, Summary};
use std::io::Read;
use std::path::PathBuf;

pub fn process(events: &[String], out: Option<PathBuf>) -> Result<(), CliError> {
    let runtime = runtime()?;
    match out {
        Some(dir) => run(&runtime, &local_handler(&dir, false)?.0, events, &dir.display().to_string()),
        None => {
            let handler = aws_parts(&runtime)?.into_handler();
            run(&runtime, &handler, events, "the configured bucket and search endpoint")
        }
    }
}

fn read_event(path: &str) -> Result<KinesisBatch, CliError> {
    let mut bytes = Vec::new();
    let read = if path == "-" {
        std::io::stdin().read_to_end(&mut bytes).map(|_| ())
    } else {
        std::fs::File::open(path).and_then(|mut f| f.read_to_end(&mut bytes)).map(|_| ())
    };
    read.map_err(|e| CliError::Failed(format!("cannot read {path}: {e}")))?;
    KinesisBatch::from_slice(&bytes)
        .map_err(|e| CliError::Usage(format!("{path} is not a Lambda Kinesis event ({{\"Records\":[…]}}): {e}")))
}

pub fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(format!("cannot start the async runtime: {e}")))
}

/// The handler `process --out DIR` runs (every destination a directory), and the Prometheus settings; for a
/// backfill, without rollups or Prometheus.
pub fn local_handler(
    dir: &std::path::Path,
    backfill: bool,
) -> Result<(Handler, Option<logmeter::output::prometheus::PrometheusConfig>), CliError> {
    let env = |k: &str| std::env::var(k).ok();
    let mut config = PipelineConfig::from_lookup(env).map_err(CliError::usage)?;
    let mut prometheus = logmeter::output::prometheus::PrometheusConfig::from_lookup(&env).map_err(CliError::usage)?;
    if backfill {
        logmeter::backfill::configure(&mut config, &mut prometheus);
    }
    let stores = logmeter::output::Stores {
        ingest: LocalDir::new(dir),
        quarantine: LocalDir::new(dir),
        search: Some(LocalDir::new(dir)),
        spool: false,
        prometheus: prometheus.clone().map(|p| (p, LocalDir::new(dir))),
        billing: logmeter::output::billing::Stores {
            reach: logmeter::output::billing::Reach::Dir(dir.to_owned()),
            ledger: Some(std::sync::Arc::new(LocalDir::new(dir))),
            clock: logmeter::output::billing::Clock::default(),
        },
    };
    Ok((Handler::assemble(config, stores), prometheus))
}

/// The production parts from the environment: settings checked first, so a missing bucket is reported before the
/// SDK looks anywhere for a region.
pub fn aws_parts(runtime: &tokio::runtime::Runtime) -> Result<logmeter::startup::AwsParts, CliError> {
    let env = |k: &str| std::env::var(k).ok();
    logmeter::startup::settings(env)
        .map_err(|e| CliError::Usage(format!("{e} (or pass --out DIR to write to a directory)")))?;
    runtime.block_on(async {
        let sdk = logmeter::aws::sdk_config().await;
        if sdk.region().is_none() {
            return Err(CliError::Usage(
                "no AWS region: set AWS_REGION to the bucket's region (S3 requests are signed for it)".to_owned(),
            ));
        }
        logmeter::startup::aws_parts(env, &sdk).await.map_err(CliError::usage)
    })
}

fn run(runtime: &tokio::runtime::Runtime, handler: &Handler, events: &[String], target: &str) -> Result<(), CliError> {
    let mut summary = Summary::default();
    for path in events {
        let mut batch = read_event(path)?;
        loop {
            let outcome = runtime.block_on(handler.handle(&batch, None));
            summary += outcome.summary;
            if outcome.deferred_only == 0 {
                break;
            }
            // Records left for the retry are run at once, as Lambda's retry would run them.
            summary.batch_item_failures -= 1;
            batch.records.drain(..batch.records.len() - outcome.deferred_only);
        }
    }
    let line = serde_json::to_string(&summary).map_err(CliError::failed)?;
    println!("{line}");
    if summary.batch_item_failures > 0 {
        return Err(CliError::Failed(format!(
            "{} record(s) could not be delivered to {target}: see the errors above",
            summary.batch_item_failures
        )));
    }
    Ok(())
}
