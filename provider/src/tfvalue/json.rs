//! JSON encoding of values, as Terraform stores resource state (and hands it to
//! UpgradeResourceState). JSON has no unknowns: stored state is always known.

use std::collections::BTreeMap;

use serde_json::Value as J;

use super::{AttributePath, DecodeError, Type, Value};

pub fn decode_json(bytes: &[u8], ty: &Type) -> Result<Value, DecodeError> {
    let raw: J = serde_json::from_slice(bytes).map_err(|e| DecodeError::Malformed {
        encoding: "JSON",
        message: e.to_string(),
    })?;
    from_json(raw, ty, &AttributePath::root())
}

/// Like [`decode_json`], for JSON written by another provider's schema: attributes this type does
/// not have are dropped, `"true"`/`"false"` and numbers in strings are taken as the type asks, and
/// a value of any other shape becomes null instead of an error (a refresh fills it in).
pub fn decode_json_lenient(raw: J, ty: &Type) -> Value {
    match (raw, ty) {
        (J::String(s), Type::Bool) => s.parse().map_or(Value::Null, Value::Bool),
        (J::Array(items), Type::List(el)) => Value::List(items.into_iter().map(|v| decode_json_lenient(v, el)).collect()),
        (J::Array(items), Type::Set(el)) => Value::Set(items.into_iter().map(|v| decode_json_lenient(v, el)).collect()),
        (J::Object(m), Type::Map(el)) => Value::Map(m.into_iter().map(|(k, v)| (k, decode_json_lenient(v, el))).collect()),
        (J::Object(mut m), Type::Object(attrs)) => Value::Object(
            attrs
                .iter()
                .map(|(k, t)| (k.clone(), decode_json_lenient(m.remove(k).unwrap_or(J::Null), t)))
                .collect(),
        ),
        (raw, ty) => from_json(raw, ty, &AttributePath::root()).unwrap_or(Value::Null),
    }
}

pub fn encode_json(value: &Value) -> J {
    match value {
        Value::Null | Value::Unknown => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Number(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => J::from(*n as i64),
        Value::Number(n) => J::from(*n),
        Value::String(s) => J::String(s.clone()),
        Value::List(items) | Value::Set(items) => J::Array(items.iter().map(encode_json).collect()),
        Value::Map(m) | Value::Object(m) => J::Object(m.iter().map(|(k, v)| (k.clone(), encode_json(v))).collect()),
    }
}

fn from_json(raw: J, ty: &Type, path: &AttributePath) -> Result<Value, DecodeError> {
    let mismatch = |found: &J| DecodeError::TypeMismatch {
        path: path.clone(),
        expected: ty.describe(),
        found: found.to_string(),
    };
    match (raw, ty) {
        (J::Null, _) => Ok(Value::Null),
        (J::Bool(b), Type::Bool) => Ok(Value::Bool(b)),
        (J::Number(n), Type::Number) => n.as_f64().map(Value::Number).ok_or_else(|| mismatch(&J::Number(n))),
        (J::String(s), Type::Number) => s.parse().map(Value::Number).map_err(|_| mismatch(&J::String(s.clone()))),
        (J::String(s), Type::String) => Ok(Value::String(s)),
        // Legacy states sometimes hold scalars in a different JSON type; cty converts them too.
        (J::Number(n), Type::String) => Ok(Value::String(n.to_string())),
        (J::Bool(b), Type::String) => Ok(Value::String(b.to_string())),
        (J::Array(items), Type::List(el)) => Ok(Value::List(items_from(items, el, path)?)),
        (J::Array(items), Type::Set(el)) => Ok(Value::Set(items_from(items, el, path)?)),
        (J::Object(m), Type::Map(el)) => {
            let mut out = BTreeMap::new();
            for (k, v) in m {
                let child = from_json(v, el, &path.key(&k))?;
                out.insert(k, child);
            }
            Ok(Value::Map(out))
        }
        (J::Object(mut m), Type::Object(attrs)) => {
            let mut out = BTreeMap::new();
            for (k, t) in attrs {
                let v = m.remove(k).unwrap_or(J::Null);
                out.insert(k.clone(), from_json(v, t, &path.child(k))?);
            }
            Ok(Value::Object(out))
        }
        (raw, _) => Err(mismatch(&raw)),
    }
}

fn items_from(items: Vec<J>, el: &Type, path: &AttributePath) -> Result<Vec<Value>, DecodeError> {
    items
        .into_iter()
        .enumerate()
        .map(|(i, v)| from_json(v, el, &path.index(i)))
        .collect()
}
