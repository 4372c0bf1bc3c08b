//! The `logmeter` command line: runs the Lambda's handler over Lambda Kinesis event files.

use clap::{Parser, Subcommand};
use logmeter::destination::prometheus::PrometheusOutlet;
use logmeter::sink::LocalDir;
use logmeter::{Handler, KinesisBatch, Pipeline, PipelineConfig, Summary};
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

/// Turns CloudWatch Logs delivered through Kinesis into Amberflo meter records and Lambda invocation metrics.
///
/// `logmeter process` runs exactly the handler the Lambda function runs, over Lambda Kinesis event files
/// (`{"Records":[…]}`), and prints a one-line JSON summary on stdout. Bad data never makes it fail: undecodable
/// records, malformed meter records and unreadable REPORT lines are quarantined and counted. Usage and I/O errors
/// exit non-zero.
///
/// Settings come from the environment, as in the Lambda; `logmeter --help` lists every one, with its default.
/// Logs go to stderr; RUST_LOG sets their level (default warn).
#[derive(Parser)]
#[command(name = "logmeter", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Process Lambda Kinesis event files as the Lambda would.
    ///
    /// With --out DIR, deliveries go to a directory: meter record objects at DIR/<key> (the S3 key layout,
    /// ingest/records/YYYY-MM-DD/<shard>/<sequence>-<part>.json), quarantine objects at
    /// DIR/logmeter-quarantine/YYYY-MM-DD/<shard>/<sequence>.json, and bulk API bodies at
    /// DIR/search-bulk/<shard>/<sequence>-<part>.ndjson. Writes are create-only: processing the same events
    /// again, or a retry from any record, leaves the directory byte-identical.
    ///
    /// Without --out, deliveries go where the Lambda's go, with the same settings: INGEST_BUCKET_NAME (and the
    /// AWS SDK's AWS_REGION, AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_S3, credentials), SEARCH_URL and its
    /// authentication. Every setting is listed below.
    Process {
        /// Event files; `-` reads one event from stdin.
        #[arg(required = true, value_name = "EVENT.json")]
        events: Vec<String>,
        /// Output directory (created when missing) instead of S3 and the search endpoint.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Write the generated sample events and their ground truth (samples/README.md) into DIR.
    GenerateSamples {
        /// Target directory.
        #[arg(long, value_name = "DIR", default_value = "samples")]
        out: PathBuf,
    },
}

/// The README's settings table (its one copy), as plain text for `--help`.
fn settings_help() -> String {
    const README: &str = include_str!("../../README.md");
    const HEADER: &str = "| variable | default | meaning |";
    let mut out = String::from("Settings (environment variables, read once at start; README.md, \"Configuration\"):\n");
    let table = README.split_once(HEADER).map_or("", |(_, rest)| rest.split("\n\n").next().unwrap_or(""));
    for row in table.lines().skip(2) {
        let cells: Vec<String> = row.trim().trim_matches('|').split(" | ").map(|c| c.trim().replace('`', "")).collect();
        if let [names, default, meaning] = cells.as_slice() {
            out.push_str(&format!("\n  {names}\n      default {default}: {meaning}\n"));
        }
    }
    out
}

fn main() -> ExitCode {
    use clap::{CommandFactory as _, FromArgMatches as _};
    logmeter::telemetry::init_cli();
    let settings = settings_help();
    let matches = Cli::command()
        .after_long_help(settings.clone())
        .mut_subcommand("process", |c| c.after_long_help(settings))
        .get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let result = match cli.command {
        Command::Process { events, out } => process(&events, out),
        Command::GenerateSamples { out } => logmeter::samplegen::write_samples(&out).map_err(|e| (1, e.to_string())),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, msg)) => {
            eprintln!("logmeter: {msg}");
            ExitCode::from(code)
        }
    }
}

fn read_event(path: &str) -> Result<KinesisBatch, (u8, String)> {
    let mut bytes = Vec::new();
    let read = if path == "-" {
        std::io::stdin().read_to_end(&mut bytes).map(|_| ())
    } else {
        std::fs::File::open(path).and_then(|mut f| f.read_to_end(&mut bytes)).map(|_| ())
    };
    read.map_err(|e| (1, format!("cannot read {path}: {e}")))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| (2, format!("{path} is not a Lambda Kinesis event ({{\"Records\":[…]}}): {e}")))
}

fn process(events: &[String], out: Option<PathBuf>) -> Result<(), (u8, String)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| (1, format!("cannot start the async runtime: {e}")))?;
    match out {
        Some(dir) => {
            let env = |k: &str| std::env::var(k).ok();
            let config = PipelineConfig::from_lookup(env).map_err(|e| (2, e.to_string()))?;
            let prometheus = logmeter::config::PrometheusConfig::from_lookup(&env).map_err(|e| (2, e.to_string()))?;
            let mut outlets = logmeter::destination::outlets(
                &config,
                LocalDir::new(&dir),
                LocalDir::new(&dir),
                Some(LocalDir::new(&dir)),
                false,
            );
            if let Some(p) = &prometheus {
                let outlet = PrometheusOutlet::boxed(p, LocalDir::new(&dir), &config.quarantine_prefix);
                outlets.push(outlet);
            }
            let mode = prometheus.map(|p| p.mode);
            let handler = Handler::new(Pipeline::for_destinations(config, true, mode), outlets);
            run(&runtime, &handler, events, &dir.display().to_string())
        }
        None => {
            let env = |k: &str| std::env::var(k).ok();
            // Settings first: a missing bucket is reported before the SDK looks anywhere for a region.
            logmeter::startup::settings(env)
                .map_err(|e| (2, format!("{e} (or pass --out DIR to write to a directory)")))?;
            let handler = runtime.block_on(async {
                let sdk = logmeter::aws::sdk_config().await;
                if sdk.region().is_none() {
                    return Err((
                        2,
                        "no AWS region: set AWS_REGION to the bucket's region (S3 requests are signed for it)"
                            .to_owned(),
                    ));
                }
                logmeter::startup::aws_handler(env, &sdk).await.map_err(|e| (2, e.to_string()))
            })?;
            run(&runtime, &handler, events, "the configured bucket and search endpoint")
        }
    }
}

fn run(
    runtime: &tokio::runtime::Runtime,
    handler: &Handler,
    events: &[String],
    target: &str,
) -> Result<(), (u8, String)> {
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
    let line = serde_json::to_string(&summary).map_err(|e| (1, e.to_string()))?;
    println!("{line}");
    if summary.batch_item_failures > 0 {
        return Err((
            1,
            format!(
                "{} record(s) could not be delivered to {target}: see the errors above",
                summary.batch_item_failures
            ),
        ));
    }
    Ok(())
}
