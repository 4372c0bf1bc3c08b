//! Index mappings derived from a document's type: a fully populated example of the type is serialized through a
//! serializer that writes, instead of values, the mapping of each field (`bool` → `boolean`, integers → `long`,
//! floats → `double`, strings → `keyword`, `@timestamp` → `date`, structs and maps → `properties`). A field added to
//! a document type is mapped without anyone writing its mapping; an example that leaves an optional field empty is
//! an error, so no field can be forgotten there either.

use serde::ser::{self, Serialize};
use serde_json::{Map, Value, json};

/// Why a mapping could not be derived.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct MappingError(String);

impl ser::Error for MappingError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Self(msg.to_string())
    }
}

/// The `properties` of `example`'s mapping; `overrides` replace the mapping at a dotted path
/// (`aws.lambda.duration_sketch`).
pub fn properties_of<T: Serialize>(example: &T, overrides: &[(&str, Value)]) -> Result<Value, MappingError> {
    let mut mapping = example.serialize(Mapper { field: "" })?;
    for (path, replacement) in overrides {
        let mut at = &mut mapping;
        for part in path.split('.') {
            at = at
                .get_mut("properties")
                .and_then(|p| p.get_mut(part))
                .ok_or_else(|| MappingError(format!("override {path}: no such field in the example")))?;
        }
        *at = replacement.clone();
    }
    mapping.get("properties").cloned().ok_or_else(|| MappingError("the example is not a struct".into()))
}

/// Serializes a value's mapping; `field` is the name it is written under (`@timestamp` is a date).
struct Mapper {
    field: &'static str,
}

fn leaf(kind: &str) -> Result<Value, MappingError> {
    Ok(json!({ "type": kind }))
}

/// The mapping of a struct or map, field by field.
struct Fields {
    properties: Map<String, Value>,
    key: Option<String>,
}

impl Fields {
    fn new() -> Self {
        Self { properties: Map::new(), key: None }
    }

    fn add<T: Serialize + ?Sized>(&mut self, name: &str, value: &T) -> Result<(), MappingError> {
        let field: &'static str = if name == "@timestamp" { "@timestamp" } else { "" };
        let mapping = value.serialize(Mapper { field })?;
        if mapping.is_null() {
            return Ok(());
        }
        self.properties.insert(name.to_owned(), mapping);
        Ok(())
    }

    fn done(self) -> Result<Value, MappingError> {
        Ok(json!({ "properties": self.properties }))
    }
}

impl ser::SerializeStruct for Fields {
    type Ok = Value;
    type Error = MappingError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), MappingError> {
        self.add(key, value)
    }
    fn skip_field(&mut self, key: &'static str) -> Result<(), MappingError> {
        Err(MappingError(format!("field {key} is skipped in the example: populate it, or it goes unmapped")))
    }
    fn end(self) -> Result<Value, MappingError> {
        self.done()
    }
}

impl ser::SerializeMap for Fields {
    type Ok = Value;
    type Error = MappingError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), MappingError> {
        self.key = Some(
            key.serialize(serde_json::value::Serializer).map_err(ser::Error::custom)?.as_str().unwrap_or("").to_owned(),
        );
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), MappingError> {
        let key = self.key.take().unwrap_or_default();
        self.add(&key, value)
    }
    fn end(self) -> Result<Value, MappingError> {
        self.done()
    }
}

/// A sequence's mapping is its elements' (the first one's).
struct Elements {
    first: Option<Value>,
}

impl ser::SerializeSeq for Elements {
    type Ok = Value;
    type Error = MappingError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), MappingError> {
        if self.first.is_none() {
            self.first = Some(value.serialize(Mapper { field: "" })?);
        }
        Ok(())
    }
    fn end(self) -> Result<Value, MappingError> {
        self.first.ok_or_else(|| MappingError("an empty sequence in the example: give it an element".into()))
    }
}

impl ser::Serializer for Mapper {
    type Ok = Value;
    type Error = MappingError;
    type SerializeSeq = Elements;
    type SerializeStruct = Fields;
    type SerializeMap = Fields;
    type SerializeTuple = ser::Impossible<Value, MappingError>;
    type SerializeTupleStruct = ser::Impossible<Value, MappingError>;
    type SerializeTupleVariant = ser::Impossible<Value, MappingError>;
    type SerializeStructVariant = ser::Impossible<Value, MappingError>;

    fn serialize_bool(self, _: bool) -> Result<Value, MappingError> {
        leaf("boolean")
    }
    fn serialize_i8(self, _: i8) -> Result<Value, MappingError> {
        leaf("long")
    }
    fn serialize_i16(self, _: i16) -> Result<Value, MappingError> {
        leaf("long")
    }
    fn serialize_i32(self, _: i32) -> Result<Value, MappingError> {
        leaf("long")
    }
    fn serialize_i64(self, _: i64) -> Result<Value, MappingError> {
        leaf("long")
    }
    fn serialize_u8(self, _: u8) -> Result<Value, MappingError> {
        leaf("long")
    }
    fn serialize_u16(self, _: u16) -> Result<Value, MappingError> {
        leaf("long")
    }
    fn serialize_u32(self, _: u32) -> Result<Value, MappingError> {
        leaf("long")
    }
    fn serialize_u64(self, _: u64) -> Result<Value, MappingError> {
        leaf("long")
    }
    fn serialize_f32(self, _: f32) -> Result<Value, MappingError> {
        leaf("double")
    }
    fn serialize_f64(self, _: f64) -> Result<Value, MappingError> {
        leaf("double")
    }
    fn serialize_char(self, _: char) -> Result<Value, MappingError> {
        leaf("keyword")
    }
    fn serialize_str(self, _: &str) -> Result<Value, MappingError> {
        leaf(if self.field == "@timestamp" { "date" } else { "keyword" })
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<Value, MappingError> {
        Err(MappingError("bytes have no mapping".into()))
    }
    fn serialize_none(self) -> Result<Value, MappingError> {
        Err(MappingError("an optional field is empty in the example: populate every field".into()))
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Value, MappingError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Value, MappingError> {
        Ok(Value::Null)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<Value, MappingError> {
        Ok(Value::Null)
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, _: &'static str) -> Result<Value, MappingError> {
        leaf("keyword")
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<Value, MappingError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<Value, MappingError> {
        Err(MappingError("enum variants with data have no mapping".into()))
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Elements, MappingError> {
        Ok(Elements { first: None })
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, MappingError> {
        Err(MappingError("tuples have no mapping".into()))
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeTupleStruct, MappingError> {
        Err(MappingError("tuple structs have no mapping".into()))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, MappingError> {
        Err(MappingError("enum variants with data have no mapping".into()))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Fields, MappingError> {
        Ok(Fields::new())
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Fields, MappingError> {
        Ok(Fields::new())
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, MappingError> {
        Err(MappingError("enum variants with data have no mapping".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize)]
    struct Doc {
        #[serde(rename = "@timestamp")]
        timestamp: &'static str,
        name: String,
        n: u64,
        x: f64,
        on: bool,
        inner: Inner,
        #[serde(skip_serializing_if = "Option::is_none")]
        maybe: Option<u32>,
    }

    #[derive(serde::Serialize)]
    struct Inner {
        values: Vec<i32>,
    }

    #[test]
    fn valid_mappings_follow_the_type_and_empty_fields_are_refused() {
        let doc = Doc {
            timestamp: "2026-12-06T00:00:00Z",
            name: "a".into(),
            n: 1,
            x: 1.5,
            on: true,
            inner: Inner { values: vec![1] },
            maybe: Some(1),
        };
        let p = properties_of(&doc, &[("inner.values", json!({"type": "object", "enabled": false}))]).unwrap();
        assert_eq!(
            p,
            json!({"@timestamp": {"type": "date"}, "name": {"type": "keyword"}, "n": {"type": "long"},
                   "x": {"type": "double"}, "on": {"type": "boolean"},
                   "inner": {"properties": {"values": {"type": "object", "enabled": false}}}, "maybe": {"type": "long"}})
        );
        let empty = Doc { maybe: None, ..doc };
        assert!(
            properties_of(&empty, &[]).unwrap_err().to_string().contains("populate"),
            "a skipped field is an error"
        );
    }
}
