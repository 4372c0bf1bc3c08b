//! `logmeter reconcile` and `logmeter report`: the join of invocations and meter records, from a directory or the
//! search mirror, as tables, JSON, CSV or an HTML page.

use crate::error::CliError;
use std::path::{Path, PathBuf};

/// Where reconciliation documents come from, and how to join them.
#[derive(clap::Args)]
pub struct Source {
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
    /// The price book (docs/pricing.md): a JSON file, for revenue and margin per customer. Default: the
    /// PRICE_BOOK setting, when set.
    #[arg(long, value_name = "FILE")]
    price_book: Option<String>,
}

/// The search mirror's client and writer for `--search-url`, with the SEARCH_* authentication settings.
fn mirror(url: &str) -> Result<logmeter::output::search::SearchConfig, CliError> {
    let url = url.to_owned();
    logmeter::output::search::SearchConfig::from_lookup(&|k: &str| match k {
        "SEARCH_URL" => Some(url.clone()),
        _ => std::env::var(k).ok(),
    })
    .map_err(CliError::usage)?
    .ok_or_else(|| CliError::Usage("--search-url is required".to_owned()))
}

fn reconcile_outcome(source: &Source, write: bool) -> Result<logmeter::reconcile::Outcome, CliError> {
    use logmeter::reconcile::scheduled::{Window, options, reconcile_window, write_results};
    let window = match (&source.from, &source.to) {
        (Some(from), Some(to)) => Some(Window::parse(from, to).map_err(CliError::Usage)?),
        _ => None,
    };
    let price_book =
        logmeter::reconcile::scheduled::price_book(source.price_book.as_deref()).map_err(CliError::Usage)?;
    let options =
        options(&source.metered, &source.tenant_customers, window.as_ref(), price_book).map_err(CliError::Usage)?;
    match (&source.out, &source.search_url) {
        (Some(dir), _) => {
            let mut reconciler = logmeter::reconcile::Reconciler::new(options).map_err(CliError::Failed)?;
            logmeter::reconcile::source::read_dir(dir, &mut |doc| reconciler.push(&doc)).map_err(CliError::Failed)?;
            reconciler.finish().map_err(CliError::Failed)
        }
        (None, Some(url)) => {
            let config = mirror(url)?;
            crate::process::runtime()?
                .block_on(async {
                    let sdk = logmeter::aws::sdk_config().await;
                    let secrets = std::env::var("AWS_ENDPOINT_URL_SECRETS_MANAGER").ok();
                    let http = logmeter::output::search::client::SearchHttp::new(&config, sdk, secrets);
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
                .map_err(CliError::Failed)
        }
        (None, None) => Err(CliError::Usage("give --out DIR or --search-url URL".into())),
    }
}

/// `reconcile`: the join, written to stdout in `format`.
pub fn reconcile(source: &Source, format: logmeter::reconcile::output::Format, write: bool) -> Result<(), CliError> {
    let outcome = reconcile_outcome(source, write)?;
    let stdout = std::io::stdout();
    let mut lock = std::io::BufWriter::new(stdout.lock());
    logmeter::reconcile::output::write(&outcome, format, &mut lock).map_err(CliError::Failed)?;
    std::io::Write::flush(&mut lock).map_err(CliError::failed)
}

/// `report`: the join as a self-contained HTML page.
pub fn report(source: &Source, html: &Path) -> Result<(), CliError> {
    let outcome = reconcile_outcome(source, false)?;
    let title =
        source.out.as_ref().map_or_else(|| source.search_url.clone().unwrap_or_default(), |d| d.display().to_string());
    let page = logmeter::reconcile::report::html(&outcome, &title).map_err(CliError::Failed)?;
    std::fs::write(html, page).map_err(|e| CliError::Failed(format!("cannot write {}: {e}", html.display())))?;
    eprintln!("wrote {}", html.display());
    Ok(())
}
