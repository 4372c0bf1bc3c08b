//! Meter records as search documents (optional): each record exactly as written to S3, plus `@timestamp` from
//! `meterTimeInMillis`, in a daily index by that time.

use crate::extract::MeterRecords;
use crate::ids::meter_document_id;
use crate::plan::{BulkEncoder, IndexNamer, iso_millis_bytes};

/// Appends one `create` action per meter record to `bulk`.
pub fn encode_meter_records(records: &MeterRecords, index_pattern: &str, bulk: &mut BulkEncoder) {
    let mut indices = IndexNamer::new(index_pattern);
    // The record, its action line and a timestamp.
    bulk.reserve(records.iter().map(|r| r.json.len() + 160).sum());
    for r in records.iter() {
        let id = meter_document_id(r.json);
        let stamp = (!r.json.contains("\"@timestamp\"")).then(|| iso_millis_bytes(r.time_millis));
        bulk.push(indices.name(r.time_millis), &id, |out| match &stamp {
            Some(ts) => {
                // The record is a minified JSON object: insert the field before its closing brace.
                out.extend_from_slice(&r.json.as_bytes()[..r.json.len() - 1]);
                out.extend_from_slice(b",\"@timestamp\":\"");
                out.extend_from_slice(ts);
                out.extend_from_slice(b"\"}");
            }
            None => out.extend_from_slice(r.json.as_bytes()),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_documents_keep_the_record_and_add_a_timestamp() {
        let json =
            r#"{"customerId":"c","meterApiName":"m","meterValue":1,"meterTimeInMillis":1795132800000,"uniqueId":"u"}"#;
        let mut records = MeterRecords::default();
        records.push(json, 1_795_132_800_000, false);
        let mut enc = BulkEncoder::new("s", "1");
        encode_meter_records(&records, "meters-%Y.%m.%d", &mut enc);
        let body = String::from_utf8(enc.finish().unwrap().body).unwrap();
        let lines: Vec<serde_json::Value> = body.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines[0]["create"]["_index"], "meters-2026.11.20");
        assert_eq!(lines[0]["create"]["_id"], meter_document_id(json));
        assert_eq!(lines[1]["@timestamp"], "2026-11-20T00:00:00.000Z");
        assert_eq!(lines[1]["customerId"], "c");
        assert_eq!(lines[1]["uniqueId"], "u");
    }
}
