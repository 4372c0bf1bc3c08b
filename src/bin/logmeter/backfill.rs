//! `logmeter backfill`: history from CloudWatch Logs through the same pipeline and destinations.

use crate::error::CliError;
use crate::process::{aws_parts, local_handler, runtime};
use std::path::PathBuf;

/// What to read, and where it goes.
#[derive(clap::Args)]
pub struct Args {
    /// Log groups to read (repeat the option for several).
    #[arg(long = "log-group", value_name = "GROUP", required = true)]
    pub log_groups: Vec<String>,
    /// Start of the range (YYYY-MM-DD or RFC 3339, UTC).
    #[arg(long)]
    pub start: String,
    /// End of the range, exclusive.
    #[arg(long)]
    pub end: String,
    /// The filter pattern (the SAM template's FilterPattern by default).
    #[arg(long, default_value = logmeter::backfill::DEFAULT_FILTER_PATTERN)]
    pub filter_pattern: String,
    /// The checkpoint file (created; a second run with the same range continues from it).
    #[arg(long, value_name = "FILE", default_value = "logmeter-backfill.checkpoint.json")]
    pub checkpoint: PathBuf,
    /// Log events per FilterLogEvents page (1–10000).
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(i32).range(1..=10_000))]
    pub page_size: i32,
    /// Stop after this many pages; run again to continue.
    #[arg(long)]
    pub max_pages: Option<u64>,
    /// FilterLogEvents requests per second at most.
    #[arg(long, default_value_t = 4.0)]
    pub max_rps: f64,
    /// A directory instead of the configured buckets and endpoints (as `process --out`).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Runs the backfill of `args`.
pub fn backfill(args: Args) -> Result<(), CliError> {
    let w = logmeter::reconcile::scheduled::Window::parse(&args.start, &args.end).map_err(CliError::Usage)?;
    let request = logmeter::backfill::Request {
        log_groups: args.log_groups,
        start_ms: w.from_ms,
        end_ms: w.to_ms,
        filter_pattern: args.filter_pattern,
        page_size: args.page_size,
        max_pages: args.max_pages,
        max_rps: args.max_rps,
        checkpoint: args.checkpoint,
    };
    run(&request, args.out)
}

fn run(request: &logmeter::backfill::Request, out: Option<PathBuf>) -> Result<(), CliError> {
    let runtime = runtime()?;
    // Rollups and Prometheus samples are not written: their ids depend on how events were cut into records.
    let handler = match &out {
        Some(dir) => local_handler(dir, true)?.0,
        None => {
            let mut parts = aws_parts(&runtime)?;
            logmeter::backfill::configure(&mut parts.pipeline, &mut parts.prometheus);
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
        .map_err(CliError::Failed)?;
    println!("{}", serde_json::to_string(&done).map_err(CliError::failed)?);
    Ok(())
}
