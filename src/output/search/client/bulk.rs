//! The bulk API's answers, item by item. An HTTP 200 can still carry `"errors": true`: every item is classified.
//! `201` created; `409` on `create` means the document is already there (an earlier attempt), which is success;
//! `429` and `5xx` are retried; any other `4xx` (a mapping error) will never succeed and is rejected to
//! quarantine with the document and the error.

use serde::Deserialize;
use std::collections::HashMap;

/// What happened to one action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemOutcome {
    /// Indexed now.
    Created,
    /// Already there (409 on `create`).
    AlreadyPresent,
    /// Worth another attempt (429, 5xx).
    Retry(String),
    /// Will never succeed (other 4xx): status and error.
    Reject(u16, String),
}

#[derive(Deserialize)]
struct Response {
    #[serde(default)]
    items: Vec<HashMap<String, Item>>,
}

#[derive(Deserialize)]
struct Item {
    status: u16,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

fn describe(error: Option<&serde_json::Value>) -> String {
    match error {
        Some(e) => {
            let kind = e.get("type").and_then(|t| t.as_str()).unwrap_or("error");
            let reason = e.get("reason").and_then(|t| t.as_str()).unwrap_or("");
            let mut s = format!("{kind}: {reason}");
            // At most 500 bytes, cut on a character boundary (engines quote the document, in any script).
            s.truncate(crate::extract::floor_char_boundary(&s, 500));
            s
        }
        None => "no error given".into(),
    }
}

/// Classifies a 200 answer's items; `Err` when the body is not a bulk response for `expected` actions.
pub fn classify(body: &[u8], expected: usize) -> Result<Vec<ItemOutcome>, String> {
    let resp: Response = serde_json::from_slice(body).map_err(|e| format!("not a bulk response: {e}"))?;
    if resp.items.len() != expected {
        return Err(format!("bulk response has {} items for {expected} actions", resp.items.len()));
    }
    Ok(resp
        .items
        .iter()
        .map(|m| match m.values().next() {
            None => ItemOutcome::Retry("empty item".into()),
            Some(item) => match item.status {
                200..=299 => ItemOutcome::Created,
                409 => ItemOutcome::AlreadyPresent,
                429 | 500..=599 => {
                    ItemOutcome::Retry(format!("HTTP {}: {}", item.status, describe(item.error.as_ref())))
                }
                s => ItemOutcome::Reject(s, describe(item.error.as_ref())),
            },
        })
        .collect())
}

/// A body's `(action, document)` line pairs.
pub fn pairs(body: &[u8]) -> Vec<(&[u8], &[u8])> {
    let mut lines = body.split(|&b| b == b'\n').filter(|l| !l.is_empty());
    let mut out = Vec::new();
    while let (Some(a), Some(d)) = (lines.next(), lines.next()) {
        out.push((a, d));
    }
    out
}

/// Joins pairs back into a body ending with a newline.
pub fn join(pairs: &[(&[u8], &[u8])]) -> Vec<u8> {
    let mut body = Vec::with_capacity(pairs.iter().map(|(a, d)| a.len() + d.len() + 2).sum());
    for (a, d) in pairs {
        body.extend_from_slice(a);
        body.push(b'\n');
        body.extend_from_slice(d);
        body.push(b'\n');
    }
    body
}

/// The `_index` and `_id` a bulk action line names (`create`, or `index`), `None` for a line that is no action or
/// names no id. A line as logmeter's bulk encoder writes it (`{"create":{"_index":"…","_id":"…"}}`, nothing
/// escaped) is read without a parser; anything else through serde, with the same answer.
pub fn action_target(action: &[u8]) -> Option<(std::borrow::Cow<'_, str>, std::borrow::Cow<'_, str>)> {
    const HEAD: &[u8] = b"{\"create\":{\"_index\":\"";
    const MID: &[u8] = b"\",\"_id\":\"";
    const TAIL: &[u8] = b"\"}}";
    static FIND_MID: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(MID));
    let line = action.strip_suffix(b"\n").unwrap_or(action);
    fn plain(s: &[u8]) -> Option<&str> {
        if s.iter().any(|&b| b == b'\\' || b == b'"') { None } else { std::str::from_utf8(s).ok() }
    }
    if let Some(inner) = line.strip_prefix(HEAD).and_then(|r| r.strip_suffix(TAIL))
        && let Some(at) = FIND_MID.find(inner)
        && let (Some(index), Some(id)) = (plain(&inner[..at]), plain(&inner[at + MID.len()..]))
    {
        return Some((index.into(), id.into()));
    }
    #[derive(Deserialize)]
    struct Action<'a> {
        #[serde(borrow, alias = "index")]
        create: Option<Target<'a>>,
    }
    #[derive(Deserialize)]
    struct Target<'a> {
        #[serde(rename = "_index", borrow)]
        index: std::borrow::Cow<'a, str>,
        #[serde(rename = "_id", borrow)]
        id: Option<std::borrow::Cow<'a, str>>,
    }
    let target = serde_json::from_slice::<Action<'_>>(action).ok()?.create?;
    Some((target.index, target.id?))
}

/// Removes `"_id"` from a `create` action line (OpenSearch Serverless time-series collections refuse it).
pub fn without_id(action: &[u8]) -> Vec<u8> {
    match serde_json::from_slice::<serde_json::Value>(action) {
        Ok(mut v) => {
            if let Some(meta) = v.get_mut("create").and_then(|m| m.as_object_mut()) {
                meta.remove("_id");
            }
            serde_json::to_vec(&v).unwrap_or_else(|_| action.to_vec())
        }
        Err(_) => action.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_items_are_classified() {
        let body = br#"{"took":3,"errors":true,"items":[
            {"create":{"_index":"i","_id":"1","status":201}},
            {"create":{"_index":"i","_id":"2","status":409,"error":{"type":"version_conflict_engine_exception","reason":"exists"}}},
            {"create":{"_index":"i","_id":"3","status":429,"error":{"type":"es_rejected_execution_exception","reason":"queue full"}}},
            {"create":{"_index":"i","_id":"4","status":503,"error":{"type":"unavailable_shards_exception","reason":"x"}}},
            {"create":{"_index":"i","_id":"5","status":400,"error":{"type":"mapper_parsing_exception","reason":"failed to parse field [faas.coldstart]"}}}]}"#;
        let got = classify(body, 5).unwrap();
        assert_eq!(got[0], ItemOutcome::Created);
        assert_eq!(got[1], ItemOutcome::AlreadyPresent);
        assert!(matches!(&got[2], ItemOutcome::Retry(r) if r.contains("429")));
        assert!(matches!(&got[3], ItemOutcome::Retry(r) if r.contains("503")));
        assert!(matches!(&got[4], ItemOutcome::Reject(400, r) if r.contains("mapper_parsing_exception")));
    }

    #[test]
    fn invalid_items_are_retried_or_rejected_with_a_readable_error() {
        let long = "é".repeat(400);
        let body = format!(
            r#"{{"items":[{{}},{{"create":{{"status":400}}}},{{"index":{{"status":400,"error":{{"reason":"r"}}}}}},{{"create":{{"status":400,"error":{{"type":"t","reason":"{long}"}}}}}}]}}"#
        );
        let got = classify(body.as_bytes(), 4).unwrap();
        assert_eq!(got[0], ItemOutcome::Retry("empty item".into()), "an empty item is never counted as delivered");
        assert_eq!(got[1], ItemOutcome::Reject(400, "no error given".into()));
        assert_eq!(got[2], ItemOutcome::Reject(400, "error: r".into()));
        // A long reason in a multi-byte script is cut at 500 bytes on a character boundary.
        assert!(
            matches!(&got[3], ItemOutcome::Reject(400, r) if r.len() <= 500 && r.len() > 490 && r.starts_with("t: é"))
        );
    }

    #[test]
    fn invalid_responses_are_errors() {
        assert!(classify(b"<html>", 1).is_err());
        assert!(classify(br#"{"items":[]}"#, 1).unwrap_err().contains("0 items for 1"));
    }

    #[test]
    fn valid_pairs_round_trip_and_ids_can_be_dropped() {
        let body = b"{\"create\":{\"_index\":\"i\",\"_id\":\"1\"}}\n{\"a\":1}\n{\"create\":{\"_index\":\"i\",\"_id\":\"2\"}}\n{\"a\":2}\n";
        let p = pairs(body);
        assert_eq!(p.len(), 2);
        assert_eq!(join(&p), body.to_vec());
        assert_eq!(without_id(p[0].0), br#"{"create":{"_index":"i"}}"#.to_vec());
    }

    #[test]
    fn valid_action_targets_are_the_same_read_plainly_or_parsed() {
        let plain = action_target(b"{\"create\":{\"_index\":\"i-2026.12.06\",\"_id\":\"a-1\"}}\n");
        let want = Some(("i-2026.12.06".into(), "a-1".into()));
        assert_eq!(plain, want);
        assert_eq!(action_target(b"{\"create\":{\"_id\":\"a-1\",\"_index\":\"i-2026.12.06\"}}"), want);
        assert_eq!(action_target(b"{\"create\":{\"_index\":\"i-2026.12.06\",\"_id\":\"a\\u002d1\"}}"), want);
        assert_eq!(action_target(b"{\"index\":{\"_index\":\"i-2026.12.06\",\"_id\":\"a-1\"}}"), want);
        assert_eq!(action_target(b"{\"create\":{\"_index\":\"i\"}}"), None, "no id");
        assert_eq!(action_target(b"not json"), None);
    }
}
