//! Where reconciliation documents are read from: the bulk bodies of a `logmeter process --out DIR` directory, or
//! the search mirror's reconciliation indices (sorted by document id, page after page with `search_after`).

use crate::plan::reconcile_docs::{JoinDoc, is_join_doc};
use crate::sink::search::SearchHttp;
use std::path::Path;

/// Calls `f` with every reconciliation document in the bulk bodies under `dir/search-bulk/`, file by file.
pub fn read_dir(dir: &Path, f: &mut dyn FnMut(JoinDoc) -> Result<(), String>) -> Result<(), String> {
    let root = dir.join(crate::sink::BULK_DIR);
    if !root.is_dir() {
        return Err(format!(
            "{} holds no bulk bodies: run `logmeter process --out {}` first (with SEARCH_RECONCILE_DOCS on, the default)",
            root.display(),
            dir.display()
        ));
    }
    let mut stack = vec![root];
    let mut files = Vec::new();
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| format!("{}: {e}", d.display()))?;
        for entry in entries {
            let path = entry.map_err(|e| format!("{}: {e}", d.display()))?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "ndjson") {
                files.push(path);
            }
        }
    }
    files.sort();
    for path in files {
        let body = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        for (_, doc) in crate::sink::search::pairs(&body) {
            if is_join_doc(doc) {
                f(serde_json::from_slice(doc).map_err(|e| format!("{}: {e}", path.display()))?)?;
            }
        }
    }
    Ok(())
}

/// Documents per page.
const PAGE: usize = 2_000;

/// Calls `f` with every reconciliation document in the indices `pattern` (`logmeter-reconcile-*`) of the search
/// mirror, optionally those with `@timestamp` in `[from, to)` (ISO 8601 or date math).
pub async fn read_search(
    http: &SearchHttp,
    pattern: &str,
    range: Option<(&str, &str)>,
    f: &mut (dyn FnMut(JoinDoc) -> Result<(), String> + Send),
) -> Result<(), String> {
    let query = match range {
        Some((from, to)) => serde_json::json!({"range": {"@timestamp": {"gte": from, "lt": to}}}),
        None => serde_json::json!({"match_all": {}}),
    };
    let mut after: Option<serde_json::Value> = None;
    loop {
        let mut body = serde_json::json!({"size": PAGE, "query": query, "sort": [{"join_id": "asc"}]});
        if let Some(a) = &after {
            body["search_after"] = a.clone();
        }
        let path = format!("/{pattern}/_search?ignore_unavailable=true&allow_no_indices=true");
        let answer = http
            .send(http::Method::POST, &path, Some((bytes::Bytes::from(body.to_string()), "application/json")))
            .await
            .map_err(|e| format!("search mirror: {e}"))?;
        if answer.status != 200 {
            return Err(format!(
                "search mirror answered HTTP {}: {}",
                answer.status,
                crate::sink::search::snippet(&answer.body)
            ));
        }
        #[derive(serde::Deserialize)]
        struct Page {
            hits: Hits,
        }
        #[derive(serde::Deserialize)]
        struct Hits {
            hits: Vec<Hit>,
        }
        #[derive(serde::Deserialize)]
        struct Hit {
            #[serde(rename = "_source")]
            source: JoinDoc,
            sort: serde_json::Value,
        }
        let page: Page = serde_json::from_slice(&answer.body).map_err(|e| format!("search mirror: {e}"))?;
        let n = page.hits.hits.len();
        for hit in page.hits.hits {
            after = Some(hit.sort);
            f(hit.source)?;
        }
        if n < PAGE {
            return Ok(());
        }
    }
}
