//! The usual meter record read, checked and minified in one pass.
//!
//! Nearly every record is an object of the ingest fields, with a flat `dimensions` object and perhaps a few
//! scalar extras, written compact (`JSON.stringify`), spaced (`json.dumps`) or pretty-printed.
//! [`read_usual_record`] reads such a record strictly, checks it against the ingest rules and appends its minified
//! text, in one pass over its bytes. It accepts only records the general path ([`super::record::read_record`],
//! then [`super::record::minify_with_unique_id_into`]) accepts, with the same end, verdict and text; anything else
//! (a record that breaks a rule, an escaped key, a nested extra, a repeated field, a string that is not strict
//! JSON) is handed back untouched, and the general path decides it and says why. The rules themselves are not
//! written twice: names, `meterValue` and `meterTimeInMillis` are checked by the same functions as on the general
//! path (`record::name_problem`, `check_meter_value`, `parse_millis`); this reader only finds the fields.
//!
//! [`read_escaped_record`] reads the same records where they stand inside a JSON string literal, one or two levels
//! deep (a text log line in the payload's `message` literal, or a JSON log line's `message` inside that), so the
//! line need not be unescaped first: it takes records whose every quote is written as that depth's escaped quote
//! (`\"`, `\\\"`) and, in a line's own literal, also escaped line breaks between tokens and `\u` escapes in
//! strings; it writes the record as it reads once unescaped, and hands back any record with another escape.

mod tokens;

pub(super) use tokens::number_len;

use super::record::{ValidRecord, name_problem};
use crate::decode::{literal, unescape_into};

/// Reads the record that starts `text` (at its `{`), appending its minified JSON to `out`: the offset just after
/// the record and what validation learned. `None`, with `out` unchanged, for anything but a valid record of the
/// usual shape.
pub fn read_usual_record(text: &str, out: &mut String) -> Option<(usize, ValidRecord)> {
    read::<0>(text, out)
}

/// [`read_usual_record`] for a record inside a string literal `E` escapes deep: every quote of the record is
/// written as `E` backslashes and a quote (`E` is 1 in a text line's literal, 3 in a JSON log line's `message`
/// inside it). Whitespace must be spaces (or, at depth 1, the `\n`, `\r`, `\t` escapes), and a string may hold no
/// escape but, at depth 1, `\u` ones. The offset is in `text`; the minified record appended to `out` is the
/// unescaped one, as [`read_usual_record`] writes it from the unescaped text.
pub fn read_escaped_record<const E: usize>(text: &str, out: &mut String) -> Option<(usize, ValidRecord)> {
    const { assert!(E == 1 || E == 3, "one or two levels of escapes") };
    read::<E>(text, out)
}

fn read<const E: usize>(text: &str, out: &mut String) -> Option<(usize, ValidRecord)> {
    let start = out.len();
    let mut reader = Reader::<E> { text, bytes: text.as_bytes(), at: 0, run: 0, out };
    let read = reader.record();
    if read.is_none() {
        reader.out.truncate(start);
    }
    read
}

// The fields the rules are about, as bits of a set.
const CUSTOMER_ID: u8 = 1;
const METER_API_NAME: u8 = 2;
const METER_VALUE: u8 = 4;
const METER_TIME: u8 = 8;
const UNIQUE_ID: u8 = 16;
const DIMENSIONS: u8 = 32;
const REQUIRED: u8 = CUSTOMER_ID | METER_API_NAME | METER_VALUE | METER_TIME;

/// A cursor that copies what it reads to `out`, leaving out whitespace between tokens: `run` is where the text not
/// yet copied starts, so a compact record is copied with one `push_str`. In a literal (`E` > 0) each escaped quote
/// is copied as a plain one.
struct Reader<'t, 'o, const E: usize> {
    text: &'t str,
    bytes: &'t [u8],
    at: usize,
    run: usize,
    out: &'o mut String,
}

/// Whether `bytes` starts with the escaped quote of depth `E`: `E` backslashes and a quote.
#[inline]
fn is_quote<const E: usize>(bytes: &[u8]) -> bool {
    match E {
        0 => bytes.first() == Some(&b'"'),
        1 => literal(bytes, b"\\\"").is_some(),
        _ => literal(bytes, b"\\\\\\\"").is_some(),
    }
}

impl<const E: usize> Reader<'_, '_, E> {
    /// The byte a string starts with.
    const QUOTE_START: u8 = if E == 0 { b'"' } else { b'\\' };

    fn record(&mut self) -> Option<(usize, ValidRecord)> {
        self.byte(b'{')?;
        let (mut seen, mut time_millis) = (0, 0);
        loop {
            self.ws();
            let field = match self.field_key() {
                Some(field) => field,
                // Any other key is an extra: a field's key without escapes is exactly what `field_key` compares.
                None => {
                    // An escaped key may still name a field once unescaped: the general path reads it.
                    if self.string()?.1 {
                        return None;
                    }
                    0
                }
            };
            if seen & field != 0 {
                return None;
            }
            seen |= field;
            self.ws();
            self.byte(b':')?;
            self.ws();
            match field {
                CUSTOMER_ID | METER_API_NAME => {
                    // A name (see `record::name_problem`).
                    let (len, escaped) = self.string()?;
                    if len == 0 || !self.is_name(len, escaped) {
                        return None;
                    }
                }
                UNIQUE_ID => {
                    // Non-empty.
                    if self.string()?.0 == 0 {
                        return None;
                    }
                }
                METER_VALUE => self.meter_value()?,
                METER_TIME => time_millis = self.millis()?,
                DIMENSIONS => self.dimensions()?,
                _ => self.scalar()?,
            }
            if !self.more(b'}')? {
                break;
            }
        }
        if seen & REQUIRED != REQUIRED {
            return None;
        }
        self.out.push_str(&self.text[self.run..self.at]);
        Some((self.at, ValidRecord { time_millis, has_unique_id: seen & UNIQUE_ID != 0 }))
    }

    /// The field whose key, quotes included, the cursor is at, read in one compare (what [`Self::string`] and the
    /// match on its text would find); `None`, with the cursor unchanged, for any other key (then read the long way).
    #[inline]
    fn field_key(&mut self) -> Option<u8> {
        if E > 0 {
            return self.escaped_field_key();
        }
        let rest = self.bytes.get(self.at..)?;
        let (len, field) = match rest.get(1)? {
            b'c' => (literal(rest, b"\"customerId\"")?, CUSTOMER_ID),
            b'm' => literal(rest, b"\"meterApiName\"")
                .map(|n| (n, METER_API_NAME))
                .or_else(|| literal(rest, b"\"meterValue\"").map(|n| (n, METER_VALUE)))
                .or_else(|| literal(rest, b"\"meterTimeInMillis\"").map(|n| (n, METER_TIME)))?,
            b'u' => (literal(rest, b"\"uniqueId\"")?, UNIQUE_ID),
            b'd' => (literal(rest, b"\"dimensions\"")?, DIMENSIONS),
            _ => return None,
        };
        self.at += len;
        Some(field)
    }

    /// [`Self::field_key`] in a literal: the name between two escaped quotes, written with plain ones.
    #[inline]
    fn escaped_field_key(&mut self) -> Option<u8> {
        let rest = self.bytes.get(self.at..)?;
        if !is_quote::<E>(rest) {
            return None;
        }
        let name = &rest[E + 1..];
        let (len, field) = match name.first()? {
            b'c' => (literal(name, b"customerId")?, CUSTOMER_ID),
            b'm' => literal(name, b"meterApiName")
                .map(|n| (n, METER_API_NAME))
                .or_else(|| literal(name, b"meterValue").map(|n| (n, METER_VALUE)))
                .or_else(|| literal(name, b"meterTimeInMillis").map(|n| (n, METER_TIME)))?,
            b'u' => (literal(name, b"uniqueId")?, UNIQUE_ID),
            b'd' => (literal(name, b"dimensions")?, DIMENSIONS),
            _ => return None,
        };
        if !is_quote::<E>(&name[len..]) {
            return None;
        }
        let open = self.at;
        self.quote(open);
        self.quote(open + E + 1 + len);
        self.at = self.run + 1;
        Some(field)
    }

    /// Whether the string just read (`len` bytes between its quotes) is a name by `record::name_problem`. One
    /// with escapes (rare: a Python record's non-ASCII name) is unescaped to be checked.
    fn is_name(&self, len: usize, escaped: bool) -> bool {
        let end = self.at - (E + 1);
        let content = &self.text[end - len..end];
        if !escaped {
            return name_problem("", content).is_none();
        }
        // In a line's literal the only escapes a string may hold are `\\uXXXX`, the record's `\uXXXX`.
        let literal = if E == 0 { format!("\"{content}\"") } else { format!("\"{}\"", content.replace("\\\\", "\\")) };
        let mut text = String::new();
        unescape_into(&literal, &mut text) && name_problem("", &text).is_none()
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::record::{minify_with_unique_id, read_record};
    use super::*;
    use proptest::prelude::*;

    /// What the general path makes of the record starting `text`: its end, verdict and minified text.
    fn general(text: &str) -> Option<(usize, ValidRecord, String)> {
        let (len, verdict) = read_record(text).ok()?;
        Some((len, verdict.ok()?, minify_with_unique_id(&text[..len], None)))
    }

    fn usual(text: &str) -> Option<(usize, ValidRecord, String)> {
        let mut out = String::from("kept");
        let read = read_usual_record(text, &mut out);
        match read {
            Some((len, valid)) => Some((len, valid, out.split_off(4))),
            None => {
                assert_eq!(out, "kept", "a record handed back leaves the buffer as it was");
                None
            }
        }
    }

    #[test]
    fn valid_usual_shapes_are_read_in_one_pass() {
        let table = [
            r#"{"customerId":"c-0103","dimensions":{"plan":"free","region":"eu-west-1"},"meterApiName":"api-calls","meterTimeInMillis":1795131600147,"meterValue":293.54,"uniqueId":"7bb83648-7984-4222-1ed4-373c9d8bebc1"}"#,
            r#"{"customerId": "c-0281", "dimensions": {"city": "S\u00e3o Paulo"}, "meterApiName": "ledger", "meterTimeInMillis": 1795131609993, "meterValue": 792.96}"#,
            "{\r  \"customerId\": \"c-0043\",\r  \"dimensions\": {\r    \"city\": \"São Paulo\"\r  },\r  \"meterApiName\": \"gb-hours\",\r  \"meterTimeInMillis\": 1795131624997,\r  \"meterValue\": 13\r} trailing",
            r#"{"meterValue":-2.5E+3,"meterTimeInMillis":100000000000,"customerId":"c","meterApiName":"m","note":null,"ok":true,"n":0,"s":"a\"b\\c\/\b\f\n\r\t","dimensions":{}}"#,
        ];
        for text in table {
            let got = usual(text).unwrap_or_else(|| panic!("handed back: {text}"));
            assert_eq!(Some(&got), general(text).as_ref(), "{text}");
        }
    }

    #[test]
    fn invalid_or_unusual_records_are_handed_back() {
        let table = [
            // Rule breaks: the general path says why.
            r#"{"customerId":"","meterApiName":"m","meterValue":1,"meterTimeInMillis":1795131600147}"#,
            r#"{"customerId":"c","meterApiName":"m","meterValue":"1","meterTimeInMillis":1795131600147}"#,
            r#"{"customerId":"c","meterApiName":"m","meterValue":1,"meterTimeInMillis":1795131600}"#,
            r#"{"customerId":"c","meterApiName":"m","meterValue":1,"meterTimeInMillis":1795131600147.0}"#,
            r#"{"customerId":"c","meterApiName":"m","meterValue":1,"meterTimeInMillis":1795131600147,"dimensions":{"a":1}}"#,
            r#"{"customerId":"c","meterApiName":"m","meterValue":1}"#,
            r#"{"customerId":"c","customerId":"d","meterApiName":"m","meterValue":1,"meterTimeInMillis":1795131600147}"#,
            r#"{"customerId":"  ","meterApiName":"m","meterValue":1,"meterTimeInMillis":1795131600147}"#,
            r#"{"customerId":"c\n","meterApiName":"m","meterValue":1,"meterTimeInMillis":1795131600147}"#,
            r#"{"customerId":"c","meterApiName":"\u0007","meterValue":1,"meterTimeInMillis":1795131600147}"#,
            // Lone surrogates (strict readers refuse them).
            r#"{"customerId":"\ud800","meterApiName":"m","meterValue":1,"meterTimeInMillis":1795131600147}"#,
            r#"{"customerId":"c","meterApiName":"m","meterValue":1,"meterTimeInMillis":1795131600147,"dimensions":{"a":"\udc00\ud800"}}"#,
            // Not strict JSON.
            r#"{"customerId":"c\x","meterApiName":"m","meterValue":1,"meterTimeInMillis":1795131600147}"#,
            "{\"customerId\":\"c\tx\",\"meterApiName\":\"m\",\"meterValue\":1,\"meterTimeInMillis\":1795131600147}",
            r#"{"customerId":"c","meterApiName":"m","meterValue":01,"meterTimeInMillis":1795131600147}"#,
            r#"{"customerId":"c","meterApiName":"m","meterValue":1.,"meterTimeInMillis":1795131600147}"#,
            r#"{"customerId":"c","meterApiName":"m","meterValue":1,"meterTimeInMillis":1795131600147,}"#,
            // Valid, but left to the general path: an escaped key, a nested extra.
            r#"{"customer\u0049d":"c","meterApiName":"m","meterValue":1,"meterTimeInMillis":1795131600147}"#,
            r#"{"customerId":"c","meterApiName":"m","meterValue":1,"meterTimeInMillis":1795131600147,"x":[1]}"#,
        ];
        for text in table {
            assert_eq!(usual(text), None, "{text}");
        }
        // The same in a line's literal, where Python writes `\\uXXXX`.
        for text in [
            r#"{\"customerId\":\"\\ud83d\",\"meterApiName\":\"m\",\"meterValue\":1,\"meterTimeInMillis\":1795131600147}"#,
            r#"{\"customerId\":\"\\ude00\\ud83d\",\"meterApiName\":\"m\",\"meterValue\":1,\"meterTimeInMillis\":1795131600147}"#,
            r#"{\"customerId\":\"\\ud83d x\",\"meterApiName\":\"m\",\"meterValue\":1,\"meterTimeInMillis\":1795131600147}"#,
            r#"{\"customerId\":\"\\u3000\",\"meterApiName\":\"m\",\"meterValue\":1,\"meterTimeInMillis\":1795131600147}"#,
        ] {
            assert_eq!(escaped_reads::<1>(text), None, "{text}");
        }
    }

    /// Records from pieces that are mostly valid, sometimes not: whitespace of every kind, escapes, extras,
    /// missing and repeated fields, and bytes cut or changed.
    pub(in crate::extract) fn record_text() -> impl Strategy<Value = String> {
        let ws = prop::sample::select(vec!["", "", " ", "\r  ", "\n\t"]);
        // Valid choices weigh more than invalid ones, so that both kinds of record are common.
        let string = prop_oneof![
            4 => prop::sample::select(vec![r#""c-0103""#, r#""S\u00e3o Paulo""#, r#""São""#, r#""a\"b\\""#]),
            1 => prop::sample::select(vec![r#""""#, r#""bad\q""#, "\"tab\tin\"", r#""\u12""#]),
        ];
        let number = prop_oneof![
            4 => prop::sample::select(vec!["1", "-0", "293.54", "1e3", "2.5E-2", "1795131600147"]),
            1 => prop::sample::select(vec!["01", "1.", "-"]),
        ];
        let value = prop_oneof![
            string.clone().prop_map(str::to_owned),
            number.clone().prop_map(str::to_owned),
            prop::sample::select(vec!["true", "null", "[1]", "{}", "{\"plan\":\"free\"}", "{\"a\": 1}"])
                .prop_map(str::to_owned),
        ];
        let key = prop_oneof![
            4 => prop::sample::select(vec!["uniqueId", "dimensions", "note", "region"]),
            1 => prop::sample::select(vec!["customerId", "meterValue", "meterTimeInMillis", "customer\\u0049d"]),
        ];
        let member = (key, ws.clone(), ws.clone(), value).prop_map(|(k, a, b, v)| format!("\"{k}\"{a}:{b}{v}"));
        let required = (
            string.clone(),
            string,
            number,
            prop_oneof![
                4 => Just("1795131600147"),
                1 => prop::sample::select(vec!["17951316", "1.5", "0795131600147"])
            ],
        )
            .prop_map(|(c, m, v, t)| {
                vec![
                    format!("\"customerId\":{c}"),
                    format!("\"meterApiName\":{m}"),
                    format!("\"meterValue\":{v}"),
                    format!("\"meterTimeInMillis\":{t}"),
                ]
            });
        (required, prop::collection::vec(member, 0..4), ws, any::<prop::sample::Index>(), 0u8..6).prop_map(
            |(mut members, extra, ws, cut, damage)| {
                members.extend(extra);
                let mut text = format!("{{{ws}{}{ws}}} tail", members.join(&format!(",{ws}")));
                match damage {
                    0 => {
                        let mut at = cut.index(text.len());
                        while !text.is_char_boundary(at) {
                            at -= 1;
                        }
                        text.truncate(at);
                    }
                    1 => {
                        let at = cut.index(text.len());
                        if text.is_char_boundary(at) && text.is_char_boundary(at + 1) {
                            text.replace_range(at..at + 1, "\"");
                        }
                    }
                    _ => {}
                }
                text
            },
        )
    }

    proptest! {
        #[test]
        fn valid_what_the_one_pass_reader_accepts_the_general_path_accepts_alike(text in record_text()) {
            if let Some(got) = usual(&text) {
                prop_assert_eq!(Some(got), general(&text));
            }
        }
    }

    #[test]
    fn valid_most_generated_records_take_the_one_pass() {
        // Without damage and with the usual fields, the one-pass reader must take the record: otherwise it only
        // adds a second read.
        let (general_count, usual_count) = super::super::fast_path_share(
            record_text(),
            2_000,
            |text| general(text).is_some(),
            |text| usual(text).is_some(),
        );
        assert!(general_count > 100, "the generator makes valid records ({general_count})");
        assert!(
            usual_count * 10 >= general_count * 7,
            "{usual_count} of {general_count} valid records read in one pass"
        );
    }

    /// `text` written inside a JSON string literal `levels` deep (what a line's literal and a JSON log line's
    /// `message` in it hold).
    fn escaped(text: &str, levels: usize) -> String {
        let mut s = text.to_owned();
        for _ in 0..levels {
            let lit = serde_json::to_string(&s).unwrap();
            s = lit[1..lit.len() - 1].to_owned();
        }
        s
    }

    /// `text` without the generator's escapes and line breaks (which may leave it invalid: that is fine).
    pub(in crate::extract) fn plainer(text: &str) -> String {
        text.replace("\\\\", "").replace("\\\"", "").replace("\\u00e3", "ã").replace(['\r', '\n', '\t'], " ")
    }

    fn escaped_reads<const E: usize>(text: &str) -> Option<(usize, ValidRecord, String)> {
        let mut out = String::from("kept");
        match read_escaped_record::<E>(text, &mut out) {
            Some((len, valid)) => Some((len, valid, out.split_off(4))),
            None => {
                assert_eq!(out, "kept", "a record handed back leaves the buffer as it was");
                None
            }
        }
    }

    #[test]
    fn valid_escaped_records_read_as_the_unescaped_ones() {
        let compact = r#"{"customerId":"c-0103","dimensions":{"plan":"free","region":"eu-west-1"},"meterApiName":"api-calls","meterTimeInMillis":1795131600147,"meterValue":293.54,"uniqueId":"7bb83648-7984-4222-1ed4-373c9d8bebc1"}"#;
        let spaced = r#"{"customerId": "c-0258", "dimensions": {"city": "Zürich"}, "meterApiName": "ledger", "meterTimeInMillis": 1795131610248, "meterValue": 13, "n": null, "ok": false}"#;
        for text in [compact, spaced] {
            let (len, valid, json) = general(text).unwrap();
            assert_eq!(len, text.len());
            let one = escaped(text, 1);
            assert_eq!(escaped_reads::<1>(&format!("{one}\\n")), Some((one.len(), valid, json.clone())), "{one}");
            let two = escaped(text, 2);
            assert_eq!(escaped_reads::<3>(&format!("{two}\\\\\"")), Some((two.len(), valid, json)), "{two}");
        }
        // In a line's literal, `\u` escapes (Python's `json.dumps`) and line breaks (a pretty-printed record) are
        // read too; one level deeper, and for any other escape, the general path reads the record.
        for text in [
            r#"{"customerId":"S\u00e3o \ud83d\ude00","meterApiName":"m","meterValue":1,"meterTimeInMillis":1795131600147}"#,
            "{\r  \"customerId\": \"c\",\n\t\"meterApiName\":\"m\",\"meterValue\":1,\"meterTimeInMillis\":1795131600147\r}",
        ] {
            let (len, valid, json) = general(text).unwrap();
            let one = escaped(text, 1);
            assert_eq!(escaped_reads::<1>(&one), Some((one.len(), valid, json)), "{one}");
            assert_eq!(escaped_reads::<3>(&escaped(text, 2)), None, "{text}");
            assert_eq!(len, text.len());
        }
        for text in [
            r#"{"customerId":"a\"b","meterApiName":"m","meterValue":1,"meterTimeInMillis":1795131600147}"#,
            r#"{"customerId":"a\nb","meterApiName":"m","meterValue":1,"meterTimeInMillis":1795131600147}"#,
            r#"{"customerId":"\u00e","meterApiName":"m","meterValue":1,"meterTimeInMillis":1795131600147}"#,
        ] {
            assert_eq!(escaped_reads::<1>(&escaped(text, 1)), None, "{text}");
        }
    }

    proptest! {
        #[test]
        fn valid_what_the_escaped_reader_accepts_reads_alike_unescaped(
            text in record_text(),
            levels in 1usize..3,
            plain: bool,
        ) {
            // Half the records lose their escapes and line breaks, so that the escaped reader takes many.
            let text = if plain { plainer(&text) } else { text };
            let raw = escaped(&text, levels);
            let got = if levels == 1 { escaped_reads::<1>(&raw) } else { escaped_reads::<3>(&raw) };
            if let Some((len, valid, json)) = got {
                let (general_len, general_valid, general_json) = general(&text).expect("the general path accepts it");
                prop_assert_eq!(escaped(&text[..general_len], levels), &raw[..len]);
                prop_assert_eq!((valid, json), (general_valid, general_json));
            }
        }
    }

    #[test]
    fn valid_most_generated_escaped_records_take_the_one_pass() {
        // Records with escaped strings or line breaks are left to the general path; every other record the
        // one-pass reader takes must be taken at both depths.
        let plain = |text: &String| usual(text).is_some() && !text.contains('\\') && !text.contains(['\n', '\r', '\t']);
        let records = record_text().prop_map(|text| plainer(&text));
        let (plain_count, taken) = super::super::fast_path_share(records, 2_000, plain, |text| {
            escaped_reads::<1>(&escaped(text, 1)).is_some() && escaped_reads::<3>(&escaped(text, 2)).is_some()
        });
        assert!(plain_count > 200, "the generator makes plain valid records ({plain_count})");
        assert_eq!(taken, plain_count, "every plain record of the usual shape is read in one pass at both depths");
    }
}
