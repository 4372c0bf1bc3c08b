//! The `logmeter` command line: runs the Lambda's handler over Lambda Kinesis event files, and reconciles,
//! reports, replays and backfills. One module per command; [`error::CliError`] says how a command failed.

mod backfill;
mod error;
mod process;
mod reconcile;
mod replay;

use clap::{Parser, Subcommand};
use error::CliError;
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
    /// ingest/records/YYYY-MM-DD/<shard>/<last>-<first>-<digest>.json in the default batch layout), quarantine
    /// objects at DIR/logmeter-quarantine/YYYY-MM-DD/<shard>/<sequence>.json, and bulk API bodies at
    /// DIR/search-bulk/<shard>/<last>-<first>-<digest>.ndjson. Writes are create-only: processing the same events
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
    /// Join invocations to the meter records they emitted: unmetered invocations, orphan meter records, and
    /// cost-to-serve per customer.
    ///
    /// Reads the reconciliation documents (SEARCH_RECONCILE_DOCS, on by default) of a `process --out DIR` directory
    /// (--out) or of the search mirror (--search-url, with the SEARCH_* authentication settings). Documents are
    /// spilled to disk by key, so memory stays bounded whatever the range.
    Reconcile {
        #[command(flatten)]
        source: reconcile::Source,
        /// table (default), json, or csv (one row per customer, function and day).
        #[arg(long, value_enum, default_value = "table")]
        format: logmeter::reconcile::output::Format,
        /// Also write the results to the search mirror (cost to serve per customer, function and day; unmetered
        /// invocations), replacing an earlier run's for the same window. Needs --search-url, --from and --to.
        #[arg(long, requires = "search_url")]
        write: bool,
    },
    /// Write a self-contained HTML report (usage, cost to serve, unmetered invocations, per-function health) of a
    /// reconciliation, with the same sources as `reconcile`.
    Report {
        #[command(flatten)]
        source: reconcile::Source,
        /// The HTML file to write.
        #[arg(long, value_name = "FILE.html", default_value = "logmeter-report.html")]
        html: PathBuf,
    },
    /// Fill in history: read CloudWatch Logs with FilterLogEvents (the subscription's filter pattern) and run the
    /// events through the same pipeline and destinations as the Lambda.
    ///
    /// The same log events give the same uniqueIds and document ids as the live route; rollups and Prometheus
    /// samples are not written (their ids depend on how events were cut into records). Resumable: the checkpoint
    /// file keeps each log group's next page. A progress line shows on a terminal.
    Backfill(backfill::Args),
    /// Put back what the quarantine store kept, once its cause is fixed: whole Kinesis records through the pipeline
    /// (current settings), spooled and refused bulk bodies to the search mirror, spooled Prometheus requests to
    /// Prometheus. Idempotent; prints a summary with the same fields as `process`.
    ///
    /// With --out DIR, from DIR/<QUARANTINE_PREFIX>/ to the directory's destinations; without, from the
    /// quarantine bucket to the configured ones, as `process` does.
    Replay {
        /// A `process --out` directory instead of the buckets and endpoints.
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

fn main() -> ExitCode {
    use clap::{CommandFactory as _, FromArgMatches as _};
    logmeter::telemetry::init_cli();
    let settings = logmeter::config::settings::help_text(&logmeter::pipeline::config::every_setting());
    let matches = Cli::command()
        .after_long_help(settings.clone())
        .mut_subcommand("process", |c| c.after_long_help(settings))
        .get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let result = match cli.command {
        Command::Process { events, out } => process::process(&events, out),
        Command::Reconcile { source, format, write } => reconcile::reconcile(&source, format, write),
        Command::Report { source, html } => reconcile::report(&source, &html),
        Command::Replay { out } => replay::replay(out),
        Command::Backfill(args) => backfill::backfill(args),
        Command::GenerateSamples { out } => logmeter::samplegen::write_samples(&out).map_err(CliError::failed),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("logmeter: {e}");
            ExitCode::from(e.code())
        }
    }
}
