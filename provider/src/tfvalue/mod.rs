//! The value layer: Terraform's dynamic values (cty) as a Rust enum, their wire encodings
//! (msgpack for RPCs, JSON for stored state), types and attribute paths. Resource code works with
//! [`Value`] and [`AttributePath`] only and never sees msgpack.

mod json;
mod msgpack;
mod path;
mod types;
mod value;

pub use json::{decode_json, decode_json_lenient, encode_json};
pub use msgpack::{decode_msgpack, encode_msgpack};
pub use path::{AttributePath, Step};
pub use types::Type;
pub use value::Value;

use thiserror::Error;

#[derive(Debug, Error, PartialEq)]
pub enum DecodeError {
    #[error("malformed {encoding}: {message}")]
    Malformed { encoding: &'static str, message: String },
    #[error("at {path}: expected {expected}, found {found}")]
    TypeMismatch {
        path: AttributePath,
        expected: String,
        found: String,
    },
}

#[cfg(test)]
mod tests {
    #[test]
    fn unknowns_become_null_at_any_depth() {
        use super::Value;
        let mut v = Value::object([
            ("arn", Value::string("a")),
            ("dns", Value::Unknown),
            ("blocks", Value::List(vec![Value::object([("order", Value::Unknown)])])),
        ]);
        v.unknowns_to_null();
        assert!(v.is_wholly_known());
        assert_eq!(v.get("arn"), &Value::string("a"));
        assert_eq!(v.get("dns"), &Value::Null);
    }

    use std::collections::BTreeMap;

    use super::*;

    fn object_type() -> Type {
        Type::Object(BTreeMap::from([
            ("name".to_string(), Type::String),
            ("port".to_string(), Type::Number),
            ("enabled".to_string(), Type::Bool),
            ("tags".to_string(), Type::map(Type::String)),
            ("ids".to_string(), Type::set(Type::String)),
            (
                "blocks".to_string(),
                Type::list(Type::Object(BTreeMap::from([("x".to_string(), Type::Number)]))),
            ),
        ]))
    }

    #[test]
    fn msgpack_round_trips_known_null_and_unknown() {
        let v = Value::object([
            ("name", Value::string("app")),
            ("port", Value::int(8080)),
            ("enabled", Value::Unknown),
            ("tags", Value::string_map([("a", "b")])),
            ("ids", Value::Null),
            ("blocks", Value::List(vec![Value::object([("x", Value::Number(1.5))])])),
        ]);
        let bytes = encode_msgpack(&v, &object_type());
        assert_eq!(decode_msgpack(&bytes, &object_type()).unwrap(), v);
    }

    #[test]
    fn unknown_is_extension_type_zero_and_any_extension_decodes_as_unknown() {
        let bytes = encode_msgpack(&Value::Unknown, &Type::String);
        assert_eq!(bytes[0], 0xd4, "fixext 1");
        assert_eq!(bytes[1], 0, "extension type 0");
        // Terraform may send other extension codes for refined unknowns.
        assert_eq!(decode_msgpack(&[0xd4, 0x0c, 0x00], &Type::String).unwrap(), Value::Unknown);
    }

    #[test]
    fn encoding_writes_every_object_attribute() {
        let bytes = encode_msgpack(&Value::object([("name", Value::string("x"))]), &object_type());
        let raw = rmpv::decode::read_value(&mut bytes.as_slice()).unwrap();
        assert_eq!(raw.as_map().unwrap().len(), 6, "absent attributes are written as nil");
    }

    #[test]
    fn decode_reports_type_mismatch_with_path_and_never_panics() {
        let mut bytes = Vec::new();
        rmpv::encode::write_value(
            &mut bytes,
            &rmpv::Value::Map(vec![(rmpv::Value::from("port"), rmpv::Value::from("eighty"))]),
        )
        .unwrap();
        let err = decode_msgpack(&bytes, &object_type()).unwrap_err();
        assert!(err.to_string().contains("port"), "{err}");
        for garbage in [&[0x92, 0x01][..], &[], &[0xdf, 0xff, 0xff, 0xff, 0xff], &[0x81, 0x01, 0x02]] {
            assert!(decode_msgpack(garbage, &object_type()).is_err(), "{garbage:?}");
        }
    }

    #[test]
    fn numbers_as_strings_and_floats_decode() {
        let mut bytes = Vec::new();
        rmpv::encode::write_value(&mut bytes, &rmpv::Value::from("12345678901234567890")).unwrap();
        assert_eq!(
            decode_msgpack(&bytes, &Type::Number).unwrap(),
            Value::Number(12345678901234567890.0)
        );
    }

    #[test]
    fn json_state_decodes_with_missing_attributes_as_null() {
        let v = decode_json(br#"{"name":"a","port":80,"tags":{"k":"v"},"extra":1}"#, &object_type()).unwrap();
        assert_eq!(v.get("name"), &Value::string("a"));
        assert_eq!(v.get("port").as_i64(), Some(80));
        assert_eq!(v.get("ids"), &Value::Null);
        assert_eq!(encode_json(&v)["port"], serde_json::json!(80));
        assert!(decode_json(b"{not json", &object_type()).is_err());
    }

    #[test]
    fn another_providers_json_decodes_leniently() {
        // Strings for numbers, a value of the wrong shape and attributes of another schema.
        let raw = serde_json::json!({"name": "a", "port": "80", "enabled": "true", "ids": "not-a-list", "tags": {}, "target_failover": []});
        let v = super::decode_json_lenient(raw, &object_type());
        assert_eq!(v.get("name"), &Value::string("a"));
        assert_eq!(v.get("port").as_i64(), Some(80));
        assert_eq!(v.get("enabled"), &Value::Bool(true));
        assert_eq!(v.get("ids"), &Value::Null);
        assert_eq!(v.get("tags"), &Value::Map(Default::default()));
    }

    #[test]
    fn dynamic_values_carry_their_type() {
        let v = Value::string_list(["a", "b"]);
        let bytes = encode_msgpack(&v, &Type::Dynamic);
        assert_eq!(decode_msgpack(&bytes, &Type::Dynamic).unwrap(), v);
    }

    #[test]
    fn paths_access_and_display() {
        let v = Value::object([("blocks", Value::List(vec![Value::object([("x", Value::int(3))])]))]);
        let p = AttributePath::attr("blocks").index(0).child("x");
        assert_eq!(v.at(&p).as_i64(), Some(3));
        assert_eq!(p.to_string(), "blocks[0].x");
        assert_eq!(AttributePath::attr("tags").key("a").to_string(), "tags[\"a\"]");
        assert!(v.at(&AttributePath::attr("nope").index(4)).is_null());
    }

    #[test]
    fn types_serialize_as_terraform_expects() {
        assert_eq!(Type::map(Type::String).to_json().to_string(), r#"["map","string"]"#);
        let t = object_type();
        assert_eq!(Type::from_json(&t.to_json()), Some(t));
    }
}
