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
        source: Source,
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
        source: Source,
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
    Backfill {
        /// Log groups to read (repeat the option for several).
        #[arg(long = "log-group", value_name = "GROUP", required = true)]
        log_groups: Vec<String>,
        /// Start of the range (YYYY-MM-DD or RFC 3339, UTC).
        #[arg(long)]
        start: String,
        /// End of the range, exclusive.
        #[arg(long)]
        end: String,
        /// The filter pattern (the SAM template's FilterPattern by default).
        #[arg(long, default_value = logmeter::backfill::DEFAULT_FILTER_PATTERN)]
        filter_pattern: String,
        /// The checkpoint file (created; a second run with the same range continues from it).
        #[arg(long, value_name = "FILE", default_value = "logmeter-backfill.checkpoint.json")]
        checkpoint: PathBuf,
        /// Log events per FilterLogEvents page (1–10000).
        #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(i32).range(1..=10_000))]
        page_size: i32,
        /// Stop after this many pages; run again to continue.
        #[arg(long)]
        max_pages: Option<u64>,
        /// FilterLogEvents requests per second at most.
        #[arg(long, default_value_t = 4.0)]
        max_rps: f64,
        /// A directory instead of the configured buckets and endpoints (as `process --out`).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
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

/// Where reconciliation documents come from, and how to join them.
#[derive(clap::Args)]
struct Source {
    /// A `logmeter process --out` directory.
    #[arg(long, value_name = "DIR", conflicts_with = "search_url", required_unless_present = "search_url")]
    out: Option<PathBuf>,
    /// The search mirror's base URL (authentication from SEARCH_USERNAME/SEARCH_PASSWORD, SEARCH_API_KEY, …).
    #[arg(long, value_name = "URL")]
    search_url: Option<String>,
    /// Index pattern of the reconciliation documents (the meter records' half) in the mirror.
    #[arg(long, default_value = "logmeter-reconcile-*")]
    index: String,
    /// Index pattern of the invocation documents (the invocations' half) in the mirror: SEARCH_INDEX_PATTERN's
    /// indices, or the data stream of SEARCH_DATA_STREAM.
    #[arg(long, default_value = "logmeter-metrics-*")]
    metrics_index: String,
    /// Only what happened from this time on (YYYY-MM-DD or RFC 3339, UTC). Documents up to 15 minutes around the
    /// window are read too, so invocations near its edges find their meter records.
    #[arg(long, requires = "to")]
    from: Option<String>,
    /// Only what happened before this time.
    #[arg(long, requires = "from")]
    to: Option<String>,
    /// Functions that must meter every invocation: names and `*` patterns, comma-separated, or `all`. Unmetered
    /// invocations are only looked for in these.
    #[arg(long, value_name = "FUNCTIONS", default_value = "")]
    metered: String,
    /// Tenant ids of functions in tenant isolation mode mapped to customer ids: `tenant=customer,…` (a tenant
    /// not named is its own customer).
    #[arg(long, value_name = "MAP", default_value = "")]
    tenant_customers: String,
}

/// The search mirror's client and writer for `--search-url`, with the SEARCH_* authentication settings.
fn mirror(url: &str) -> Result<logmeter::config::SearchConfig, (u8, String)> {
    let url = url.to_owned();
    logmeter::config::DeliveryConfig::from_lookup(|k| match k {
        "SEARCH_URL" => Some(url.clone()),
        "INGEST_BUCKET_NAME" => Some("unused".into()),
        _ => std::env::var(k).ok(),
    })
    .map_err(|e| (2, e.to_string()))?
    .and_then(|d| d.search)
    .ok_or((2, "--search-url is required".to_owned()))
}

fn reconcile_outcome(source: &Source, write: bool) -> Result<logmeter::reconcile::Outcome, (u8, String)> {
    use logmeter::reconcile::scheduled::{Window, options, reconcile_window, write_results};
    let window = match (&source.from, &source.to) {
        (Some(from), Some(to)) => Some(Window::parse(from, to).map_err(|e| (2, e))?),
        _ => None,
    };
    let options = options(&source.metered, &source.tenant_customers, window.as_ref()).map_err(|e| (2, e))?;
    match (&source.out, &source.search_url) {
        (Some(dir), _) => {
            let mut reconciler = logmeter::reconcile::Reconciler::new(options).map_err(|e| (1, e))?;
            logmeter::reconcile::source::read_dir(dir, &mut |doc| reconciler.push(&doc)).map_err(|e| (1, e))?;
            reconciler.finish().map_err(|e| (1, e))
        }
        (None, Some(url)) => {
            let config = mirror(url)?;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| (1, format!("cannot start the async runtime: {e}")))?;
            runtime
                .block_on(async {
                    let sdk = logmeter::aws::sdk_config().await;
                    let secrets = std::env::var("AWS_ENDPOINT_URL_SECRETS_MANAGER").ok();
                    let http = logmeter::sink::search::SearchHttp::new(&config, sdk, secrets);
                    let mirror = logmeter::reconcile::scheduled::results_mirror(&config, http);
                    let outcome =
                        reconcile_window(mirror.http(), &source.index, &source.metrics_index, options, window.as_ref())
                            .await?;
                    if write {
                        let w = window.ok_or("--write needs --from and --to: results are written per window")?;
                        let n = write_results(&mirror, &outcome, &w).await?;
                        eprintln!("wrote {n} result documents");
                    }
                    Ok::<_, String>(outcome)
                })
                .map_err(|e| (1, e))
        }
        (None, None) => Err((2, "give --out DIR or --search-url URL".into())),
    }
}

fn main() -> ExitCode {
    use clap::{CommandFactory as _, FromArgMatches as _};
    logmeter::telemetry::init_cli();
    let settings = logmeter::config::settings::help_text();
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
        Command::Reconcile { source, format, write } => reconcile_outcome(&source, write).and_then(|outcome| {
            let stdout = std::io::stdout();
            let mut lock = std::io::BufWriter::new(stdout.lock());
            logmeter::reconcile::output::write(&outcome, format, &mut lock).map_err(|e| (1, e))?;
            std::io::Write::flush(&mut lock).map_err(|e| (1, e.to_string()))
        }),
        Command::Report { source, html } => reconcile_outcome(&source, false).and_then(|outcome| {
            let title = source
                .out
                .as_ref()
                .map_or_else(|| source.search_url.clone().unwrap_or_default(), |d| d.display().to_string());
            let page = logmeter::reconcile::report::html(&outcome, &title).map_err(|e| (1, e))?;
            std::fs::write(&html, page).map_err(|e| (1, format!("cannot write {}: {e}", html.display())))?;
            eprintln!("wrote {}", html.display());
            Ok(())
        }),
        Command::Replay { out } => replay(out),
        Command::Backfill {
            log_groups,
            start,
            end,
            filter_pattern,
            checkpoint,
            page_size,
            max_pages,
            max_rps,
            out,
        } => {
            let window = logmeter::reconcile::scheduled::Window::parse(&start, &end).map_err(|e| (2, e));
            window.and_then(|w| {
                let request = logmeter::backfill::Request {
                    log_groups,
                    start_ms: w.from_ms,
                    end_ms: w.to_ms,
                    filter_pattern,
                    page_size,
                    max_pages,
                    max_rps,
                    checkpoint,
                };
                backfill(&request, out)
            })
        }
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

fn runtime() -> Result<tokio::runtime::Runtime, (u8, String)> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| (1, format!("cannot start the async runtime: {e}")))
}

/// The handler `process --out DIR` runs (every destination a directory), and the Prometheus settings; for a
/// backfill, without rollups or Prometheus.
fn local_handler(
    dir: &std::path::Path,
    backfill: bool,
) -> Result<(Handler, Option<logmeter::config::PrometheusConfig>), (u8, String)> {
    let env = |k: &str| std::env::var(k).ok();
    let mut config = PipelineConfig::from_lookup(env).map_err(|e| (2, e.to_string()))?;
    let mut prometheus = logmeter::config::PrometheusConfig::from_lookup(&env).map_err(|e| (2, e.to_string()))?;
    if backfill {
        config.search_rollups = false;
        config.ingest_across_shards = true;
        prometheus = None;
    }
    let mut outlets = logmeter::destination::outlets(
        &config,
        LocalDir::new(dir),
        LocalDir::new(dir),
        Some(LocalDir::new(dir)),
        false,
    );
    if let Some(p) = &prometheus {
        outlets.push(PrometheusOutlet::boxed(p, LocalDir::new(dir), &config.quarantine_prefix));
    }
    let mode = prometheus.as_ref().map(|p| p.mode);
    Ok((Handler::new(Pipeline::for_destinations(config, true, mode), outlets), prometheus))
}

/// The production parts from the environment: settings checked first, so a missing bucket is reported before the
/// SDK looks anywhere for a region.
fn aws_parts(runtime: &tokio::runtime::Runtime) -> Result<logmeter::startup::AwsParts, (u8, String)> {
    let env = |k: &str| std::env::var(k).ok();
    logmeter::startup::settings(env).map_err(|e| (2, format!("{e} (or pass --out DIR to write to a directory)")))?;
    runtime.block_on(async {
        let sdk = logmeter::aws::sdk_config().await;
        if sdk.region().is_none() {
            return Err((
                2,
                "no AWS region: set AWS_REGION to the bucket's region (S3 requests are signed for it)".to_owned(),
            ));
        }
        logmeter::startup::aws_parts(env, &sdk).await.map_err(|e| (2, e.to_string()))
    })
}

fn process(events: &[String], out: Option<PathBuf>) -> Result<(), (u8, String)> {
    let runtime = runtime()?;
    match out {
        Some(dir) => run(&runtime, &local_handler(&dir, false)?.0, events, &dir.display().to_string()),
        None => {
            let handler = aws_parts(&runtime)?.into_handler();
            run(&runtime, &handler, events, "the configured bucket and search endpoint")
        }
    }
}

fn backfill(request: &logmeter::backfill::Request, out: Option<PathBuf>) -> Result<(), (u8, String)> {
    let runtime = runtime()?;
    // Rollups and Prometheus samples are not written: their ids depend on how events were cut into records.
    let handler = match &out {
        Some(dir) => local_handler(dir, true)?.0,
        None => {
            let mut parts = aws_parts(&runtime)?;
            parts.pipeline.search_rollups = false;
            parts.pipeline.ingest_across_shards = true;
            parts.prometheus = None;
            parts.into_handler()
        }
    };
    let done = runtime
        .block_on(async {
            let sdk = logmeter::aws::sdk_config().await;
            let region = sdk.region().map(|r| r.to_string()).ok_or("no AWS region: set AWS_REGION")?;
            let config = aws_sdk_cloudwatchlogs::config::Builder::from(&sdk)
                .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(8))
                .build();
            let logs = aws_sdk_cloudwatchlogs::Client::from_conf(config);
            logmeter::backfill::run(&logs, &region, &handler, request).await
        })
        .map_err(|e| (1, e))?;
    println!("{}", serde_json::to_string(&done).map_err(|e| (1, e.to_string()))?);
    Ok(())
}

fn replay(out: Option<PathBuf>) -> Result<(), (u8, String)> {
    use logmeter::replay::{Targets, replay};
    let runtime = runtime()?;
    let replayed = match out {
        Some(dir) => {
            let (handler, prometheus) = local_handler(&dir, false)?;
            let prefix = handler.pipeline().config().quarantine_prefix.clone();
            let store = LocalDir::new(&dir);
            let metrics = prometheus.as_ref().map(|p| (&store, p.mode));
            runtime.block_on(replay(&store, &prefix, Targets { handler: &handler, search: Some(&store), metrics }))
        }
        None => {
            // Two sets of the production sinks: the handler owns one, the replay of spools uses the other.
            let handler = aws_parts(&runtime)?.into_handler();
            let parts = aws_parts(&runtime)?;
            let metrics = parts.prometheus.as_ref().map(|(c, http)| (http, c.mode));
            let targets = Targets { handler: &handler, search: parts.search.as_ref(), metrics };
            runtime.block_on(replay(&parts.quarantine, &parts.pipeline.quarantine_prefix, targets))
        }
    }
    .map_err(|e| (1, e))?;
    println!("{}", serde_json::to_string(&replayed).map_err(|e| (1, e.to_string()))?);
    if replayed.summary.batch_item_failures > 0 {
        return Err((1, "some replayed records could not be delivered: see the errors above".into()));
    }
    Ok(())
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
