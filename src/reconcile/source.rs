//! Where the two halves of the join are read from: the bulk bodies of a `logmeter process --out DIR` directory, or
//! the search mirror (the invocation documents of `logmeter-metrics-*` and the meter records' reconciliation
//! documents of `logmeter-reconcile-*`, each sorted by a unique field, page after page with `search_after`).

use crate::output::search::client::SearchHttp;
use crate::output::search::reconcile_docs::{JoinDoc, JoinKind, invocation_from_report, is_join_doc, is_report_doc};
use serde::Deserialize as _;
use std::path::Path;

/// Calls `f` with every reconciliation document in the bulk bodies under `dir/search-bulk/`, file by file.
pub fn read_dir(dir: &Path, f: &mut dyn FnMut(JoinDoc) -> Result<(), String>) -> Result<(), String> {
    let root = dir.join(crate::output::search::BULK_DIR);
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
        for (action, doc) in crate::output::search::client::pairs(&body) {
            if is_join_doc(doc) {
                let join: JoinDoc = serde_json::from_slice(doc).map_err(|e| format!("{}: {e}", path.display()))?;
                // Invocations are read from their own documents; older versions also wrote them as join documents.
                if join.kind != JoinKind::Invocation {
                    f(join)?;
                }
            } else if is_report_doc(doc)
                && let Some((_, id)) = crate::output::search::client::action_target(action)
                && let Some(invocation) = invocation_from_report(&id, doc)
            {
                f(invocation)?;
            }
        }
    }
    Ok(())
}

/// Documents per page.
const PAGE: usize = 2_000;

/// Calls `f` with both halves of the join in the search mirror: every invocation document of `metrics` (the
/// invocation indices, `logmeter-metrics-*`) and every reconciliation document of `pattern`
/// (`logmeter-reconcile-*`), optionally those with `@timestamp` in `[from, to)` (ISO 8601 or date math).
pub async fn read_search(
    http: &SearchHttp,
    pattern: &str,
    metrics: &str,
    range: Option<(&str, &str)>,
    f: &mut (dyn FnMut(JoinDoc) -> Result<(), String> + Send),
) -> Result<(), String> {
    let time = match range {
        Some((from, to)) => serde_json::json!({"range": {"@timestamp": {"gte": from, "lt": to}}}),
        None => serde_json::json!({"match_all": {}}),
    };
    // Invocation documents: of the report dataset, sorted by request id, then time and log stream (an asynchronous
    // invocation's retries keep their request id: a page boundary between two of them must not skip one).
    let dataset = crate::output::search::reconcile_docs::REPORT_DATASET;
    let reports = serde_json::json!({"bool": {"filter": [time.clone(), {"term": {"event.dataset": dataset}}]}});
    let sort = ["faas.invocation_id", "@timestamp", "aws.cloudwatch.log_stream"];
    read_pages(http, metrics, &reports, &sort, &mut |id, source| {
        let doc = serde_json::to_vec(source).map_err(|e| e.to_string())?;
        f(invocation_from_report(id, &doc)
            .ok_or_else(|| format!("search mirror: unreadable invocation document {id}"))?)
    })
    .await?;
    read_meters(http, pattern, time, f).await
}

/// Calls `f` with the reconciliation documents of `pattern` (meter records) whose `@timestamp` is in `[from, to)`.
pub async fn read_search_meters(
    http: &SearchHttp,
    pattern: &str,
    (from, to): (&str, &str),
    f: &mut (dyn FnMut(JoinDoc) -> Result<(), String> + Send),
) -> Result<(), String> {
    read_meters(http, pattern, serde_json::json!({"range": {"@timestamp": {"gte": from, "lt": to}}}), f).await
}

/// The meter records' documents that `time` matches (older versions also wrote invocations there: those are read
/// from their own).
async fn read_meters(
    http: &SearchHttp,
    pattern: &str,
    time: serde_json::Value,
    f: &mut (dyn FnMut(JoinDoc) -> Result<(), String> + Send),
) -> Result<(), String> {
    let meters = serde_json::json!({"bool": {"filter": [time], "must_not": [{"term": {"kind": JoinKind::Invocation.as_str()}}]}});
    read_pages(http, pattern, &meters, &["join_id"], &mut |_, source| {
        f(JoinDoc::deserialize(source).map_err(|e| format!("search mirror: {e}"))?)
    })
    .await
}

/// Calls `f` with the `_id` and `_source` of every document of `index` that `query` matches, sorted by the fields
/// of `sort` (together unique per document), page after page.
async fn read_pages(
    http: &SearchHttp,
    index: &str,
    query: &serde_json::Value,
    sort: &[&str],
    f: &mut (dyn FnMut(&str, &serde_json::Value) -> Result<(), String> + Send),
) -> Result<(), String> {
    let mut after: Option<serde_json::Value> = None;
    loop {
        let order: Vec<serde_json::Value> = sort.iter().map(|field| serde_json::json!({*field: "asc"})).collect();
        let mut body = serde_json::json!({"size": PAGE, "query": query, "sort": order});
        if let Some(a) = &after {
            body["search_after"] = a.clone();
        }
        let path = format!("/{index}/_search?ignore_unavailable=true&allow_no_indices=true");
        let answer = http
            .send(http::Method::POST, &path, Some((bytes::Bytes::from(body.to_string()), "application/json")))
            .await
            .map_err(|e| format!("search mirror: {e}"))?;
        if answer.status != 200 {
            return Err(format!(
                "search mirror answered HTTP {}: {}",
                answer.status,
                crate::sink::http::snippet(&answer.body)
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
            #[serde(rename = "_id")]
            id: String,
            #[serde(rename = "_source")]
            source: serde_json::Value,
            sort: serde_json::Value,
        }
        let page: Page = serde_json::from_slice(&answer.body).map_err(|e| format!("search mirror: {e}"))?;
        let n = page.hits.hits.len();
        for hit in page.hits.hits {
            f(&hit.id, &hit.source)?;
            after = Some(hit.sort);
        }
        if n < PAGE {
            return Ok(());
        }
    }
}
