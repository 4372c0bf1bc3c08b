//! Bulk API bodies: NDJSON `create` action lines with deterministic `_id`s, each followed by its document, ending
//! with a newline, bounded in bytes and in actions.

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

/// Packs `create` actions, in order, into bodies of at most `max_bytes` (a single larger action gets a body
/// alone) and `max_actions` actions.
#[derive(Debug)]
pub struct BulkEncoder<'a> {
    shard: &'a str,
    sequence: &'a str,
    max_bytes: usize,
    max_actions: usize,
    requests: Vec<BulkRequest>,
    body: Vec<u8>,
    actions: usize,
    line: Vec<u8>,
}

impl<'a> BulkEncoder<'a> {
    /// An encoder for the documents of one Kinesis record.
    pub fn new(shard: &'a str, sequence: &'a str, max_bytes: usize, max_actions: usize) -> Self {
        Self {
            shard,
            sequence,
            max_bytes,
            max_actions,
            requests: Vec::new(),
            body: Vec::new(),
            actions: 0,
            line: Vec::new(),
        }
    }

    /// Appends the action for `(index, id)` and the document that `write_doc` writes (one line of JSON).
    pub fn push(&mut self, index: &str, id: &str, write_doc: impl FnOnce(&mut Vec<u8>)) {
        self.line.clear();
        // Two strings always serialize.
        let _ = serde_json::to_writer(&mut self.line, &Action { create: Meta { index, id } });
        self.line.push(b'\n');
        write_doc(&mut self.line);
        self.line.push(b'\n');
        if self.actions > 0 && (self.actions == self.max_actions || self.body.len() + self.line.len() > self.max_bytes)
        {
            self.flush();
        }
        self.body.extend_from_slice(&self.line);
        self.actions += 1;
    }

    fn flush(&mut self) {
        let name = format!("{}/{}-{:04}", self.shard, self.sequence, self.requests.len());
        let body = std::mem::take(&mut self.body);
        self.requests.push(BulkRequest { name, body, actions: std::mem::take(&mut self.actions) });
    }

    /// The requests, in order.
    pub fn finish(mut self) -> Vec<BulkRequest> {
        if self.actions > 0 {
            self.flush();
        }
        self.requests
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(n: usize, max_bytes: usize, max_actions: usize) -> Vec<BulkRequest> {
        let mut enc = BulkEncoder::new("s", "9", max_bytes, max_actions);
        for i in 0..n {
            enc.push("idx", &format!("id-{i}"), |out| out.extend_from_slice(format!("{{\"n\":{i}}}").as_bytes()));
        }
        enc.finish()
    }

    #[test]
    fn valid_bodies_are_ndjson_pairs_within_bounds() {
        for (max_bytes, max_actions) in [(1 << 20, 10), (100, 1000), (1, 1000)] {
            let reqs = encode(25, max_bytes, max_actions);
            assert_eq!(reqs.iter().map(|r| r.actions).sum::<usize>(), 25);
            let mut seen = Vec::new();
            for (i, r) in reqs.iter().enumerate() {
                assert_eq!(r.name, format!("s/9-{i:04}"));
                assert!(r.actions <= max_actions);
                assert!(r.body.len() <= max_bytes || r.actions == 1);
                assert!(r.body.ends_with(b"\n"));
                let lines: Vec<&[u8]> = r.body.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
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
        assert!(encode(0, 10, 10).is_empty());
    }
}
