//! Bulk API bodies: NDJSON `create` action lines with deterministic `_id`s, each followed by its document, ending
//! with a newline, bounded in bytes and in actions.

use super::MetricDocument;
use serde::Serialize;

/// One bulk request body, named after the Kinesis record it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkRequest {
    /// `<shard>/<sequence>-<part>`: names the request's local file and its log lines.
    pub name: String,
    /// The NDJSON body.
    pub body: Vec<u8>,
    /// Actions in the body.
    pub actions: usize,
}

#[derive(Serialize)]
struct Action<'a> {
    create: Meta<'a>,
}

#[derive(Serialize)]
struct Meta<'a> {
    #[serde(rename = "_index")]
    index: &'a str,
    #[serde(rename = "_id")]
    id: &'a str,
}

/// Packs documents, in order, into bodies of at most `max_bytes` (a single larger action gets a body alone) and
/// `max_actions` actions.
pub fn encode_bulk(
    docs: &[MetricDocument],
    shard: &str,
    sequence: &str,
    max_bytes: usize,
    max_actions: usize,
) -> Vec<BulkRequest> {
    let mut out = Vec::new();
    let mut body = Vec::new();
    let mut actions = 0;
    let mut line = Vec::with_capacity(128);
    for d in docs {
        line.clear();
        // Two strings always serialize.
        let _ = serde_json::to_writer(
            &mut line,
            &Action {
                create: Meta {
                    index: &d.index,
                    id: &d.id,
                },
            },
        );
        line.push(b'\n');
        line.extend_from_slice(d.source.as_bytes());
        line.push(b'\n');
        if actions > 0 && (actions == max_actions || body.len() + line.len() > max_bytes) {
            let name = format!("{shard}/{sequence}-{:04}", out.len());
            out.push(BulkRequest {
                name,
                body: std::mem::take(&mut body),
                actions,
            });
            actions = 0;
        }
        body.extend_from_slice(&line);
        actions += 1;
    }
    if actions > 0 {
        out.push(BulkRequest {
            name: format!("{shard}/{sequence}-{:04}", out.len()),
            body,
            actions,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(n: usize) -> MetricDocument {
        MetricDocument {
            id: format!("id-{n}"),
            index: "idx".into(),
            source: format!("{{\"n\":{n}}}"),
        }
    }

    #[test]
    fn valid_bodies_are_ndjson_pairs_within_bounds() {
        let docs: Vec<_> = (0..25).map(doc).collect();
        for (max_bytes, max_actions) in [(1 << 20, 10), (100, 1000), (1, 1000)] {
            let reqs = encode_bulk(&docs, "s", "9", max_bytes, max_actions);
            assert_eq!(reqs.iter().map(|r| r.actions).sum::<usize>(), 25);
            let mut seen = Vec::new();
            for (i, r) in reqs.iter().enumerate() {
                assert_eq!(r.name, format!("s/9-{i:04}"));
                assert!(r.actions <= max_actions);
                assert!(r.body.len() <= max_bytes || r.actions == 1);
                assert!(r.body.ends_with(b"\n"));
                let lines: Vec<&[u8]> = r
                    .body
                    .split(|&b| b == b'\n')
                    .filter(|l| !l.is_empty())
                    .collect();
                assert_eq!(lines.len(), 2 * r.actions);
                for pair in lines.chunks(2) {
                    let action: serde_json::Value = serde_json::from_slice(pair[0]).unwrap();
                    let source: serde_json::Value = serde_json::from_slice(pair[1]).unwrap();
                    assert_eq!(action["create"]["_id"], format!("id-{}", source["n"]));
                    seen.push(source["n"].as_u64().unwrap());
                }
            }
            assert_eq!(seen, (0..25).collect::<Vec<_>>());
        }
        assert!(encode_bulk(&[], "s", "9", 10, 10).is_empty());
    }
}
