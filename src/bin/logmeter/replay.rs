//! `logmeter replay`: what the quarantine store kept, back to its destinations.

use crate::error::CliError;
use crate::process::{aws_parts, local_handler, runtime};
use logmeter::sink::LocalDir;
use std::path::PathBuf;

/// Replays the quarantine store of `out` (a directory), or of the configured bucket.
pub fn replay(out: Option<PathBuf>) -> Result<(), CliError> {
    use logmeter::replay::{Targets, replay};
    let runtime = runtime()?;
    let replayed = match out {
        Some(dir) => {
            let (handler, prometheus) = local_handler(&dir, false)?;
            let prefix = handler.pipeline().config().outputs.quarantine.prefix.clone();
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
            runtime.block_on(replay(&parts.quarantine, &parts.pipeline.outputs.quarantine.prefix, targets))
        }
    }
    .map_err(CliError::Failed)?;
    println!("{}", serde_json::to_string(&replayed).map_err(CliError::failed)?);
    if replayed.summary.batch_item_failures > 0 {
        return Err(CliError::Failed("some replayed records could not be delivered: see the errors above".into()));
    }
    Ok(())
}
