//! msgpack encoding of values, as Terraform sends them in `DynamicValue.msgpack`. Decoding is
//! directed by the expected type (lists, sets, maps and objects look alike on the wire). Unknown is
//! the msgpack extension (Terraform writes type 0; any extension type is read as unknown).

use std::collections::BTreeMap;

use rmpv::Value as Mp;

use super::{AttributePath, DecodeError, Type, Value};

const UNKNOWN_EXT_TYPE: i8 = 0;

pub fn decode_msgpack(bytes: &[u8], ty: &Type) -> Result<Value, DecodeError> {
    let mut reader = bytes;
    let raw = rmpv::decode::read_value(&mut reader).map_err(|e| DecodeError::Malformed {
        encoding: "msgpack",
        message: e.to_string(),
    })?;
    if !reader.is_empty() {
        return Err(DecodeError::Malformed {
            encoding: "msgpack",
            message: format!("{} trailing bytes", reader.len()),
        });
    }
    from_mp(raw, ty, &AttributePath::root())
}

pub fn encode_msgpack(value: &Value, ty: &Type) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    // Writing into a Vec cannot fail.
    rmpv::encode::write_value(&mut out, &to_mp(value, ty)).expect("write to Vec");
    out
}

fn mismatch(path: &AttributePath, ty: &Type, found: &Mp) -> DecodeError {
    DecodeError::TypeMismatch {
        path: path.clone(),
        expected: ty.describe(),
        found: format!("{found}"),
    }
}

fn from_mp(raw: Mp, ty: &Type, path: &AttributePath) -> Result<Value, DecodeError> {
    match (raw, ty) {
        (Mp::Nil, _) => Ok(Value::Null),
        (Mp::Ext(_, _), _) => Ok(Value::Unknown),
        (Mp::Boolean(b), Type::Bool) => Ok(Value::Bool(b)),
        (Mp::Integer(i), Type::Number) => i.as_f64().map(Value::Number).ok_or_else(|| mismatch(path, ty, &Mp::Integer(i))),
        (Mp::F32(f), Type::Number) => Ok(Value::Number(f as f64)),
        (Mp::F64(f), Type::Number) => Ok(Value::Number(f)),
        // cty writes numbers that do not fit a float64 exactly as strings.
        (Mp::String(s), Type::Number) => s
            .as_str()
            .and_then(|s| s.parse::<f64>().ok())
            .map(Value::Number)
            .ok_or_else(|| mismatch(path, ty, &Mp::String(s.clone()))),
        (Mp::String(s), Type::String) => match s.into_str() {
            Some(s) => Ok(Value::String(s)),
            None => Err(DecodeError::Malformed {
                encoding: "msgpack",
                message: format!("invalid UTF-8 at {path}"),
            }),
        },
        (Mp::Array(items), Type::List(el)) => Ok(Value::List(decode_items(items, el, path)?)),
        (Mp::Array(items), Type::Set(el)) => Ok(Value::Set(decode_items(items, el, path)?)),
        (Mp::Map(entries), Type::Map(el)) => {
            let mut out = BTreeMap::new();
            for (k, v) in entries {
                let key = map_key(k, path)?;
                let child = from_mp(v, el, &path.key(&key))?;
                out.insert(key, child);
            }
            Ok(Value::Map(out))
        }
        (Mp::Map(entries), Type::Object(attrs)) => {
            let mut out: BTreeMap<String, Value> = attrs.keys().map(|k| (k.clone(), Value::Null)).collect();
            for (k, v) in entries {
                let key = map_key(k, path)?;
                // Attributes the schema does not know are dropped (an older state, say).
                if let Some(attr_ty) = attrs.get(&key) {
                    let child = from_mp(v, attr_ty, &path.child(&key))?;
                    out.insert(key, child);
                }
            }
            Ok(Value::Object(out))
        }
        // Dynamic values travel as [type-json-bytes, value].
        (Mp::Array(mut pair), Type::Dynamic) if pair.len() == 2 => {
            let value = pair.pop().unwrap_or(Mp::Nil);
            let ty_raw = pair.pop().unwrap_or(Mp::Nil);
            let ty_bytes: Vec<u8> = match ty_raw {
                Mp::Binary(b) => b,
                Mp::String(s) => s.into_bytes(),
                other => return Err(mismatch(path, &Type::Dynamic, &other)),
            };
            let inner = serde_json::from_slice(&ty_bytes)
                .ok()
                .and_then(|j| Type::from_json(&j))
                .ok_or_else(|| DecodeError::Malformed {
                    encoding: "msgpack",
                    message: format!("bad dynamic type at {path}"),
                })?;
            from_mp(value, &inner, path)
        }
        (raw, ty) => Err(mismatch(path, ty, &raw)),
    }
}

fn decode_items(items: Vec<Mp>, el: &Type, path: &AttributePath) -> Result<Vec<Value>, DecodeError> {
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| from_mp(item, el, &path.index(i)))
        .collect()
}

fn map_key(k: Mp, path: &AttributePath) -> Result<String, DecodeError> {
    match k {
        Mp::String(s) => s.into_str().ok_or_else(|| DecodeError::Malformed {
            encoding: "msgpack",
            message: format!("invalid UTF-8 key at {path}"),
        }),
        other => Err(DecodeError::Malformed {
            encoding: "msgpack",
            message: format!("non-string key {other} at {path}"),
        }),
    }
}

fn to_mp(value: &Value, ty: &Type) -> Mp {
    match (value, ty) {
        (Value::Null, _) => Mp::Nil,
        (Value::Unknown, _) => Mp::Ext(UNKNOWN_EXT_TYPE, vec![0]),
        (Value::Bool(b), _) => Mp::Boolean(*b),
        (Value::Number(n), _) => {
            if n.fract() == 0.0 && n.abs() < 9.0e15 {
                Mp::from(*n as i64)
            } else {
                Mp::F64(*n)
            }
        }
        (Value::String(s), _) => Mp::from(s.as_str()),
        (Value::List(items) | Value::Set(items), Type::List(el) | Type::Set(el)) => Mp::Array(items.iter().map(|v| to_mp(v, el)).collect()),
        (Value::Map(m) | Value::Object(m), Type::Map(el)) => Mp::Map(m.iter().map(|(k, v)| (Mp::from(k.as_str()), to_mp(v, el))).collect()),
        // Every attribute of the object type is written, absent ones as nil: Terraform requires it.
        (Value::Object(m) | Value::Map(m), Type::Object(attrs)) => Mp::Map(
            attrs
                .iter()
                .map(|(k, t)| {
                    let v = m.get(k).map_or(Mp::Nil, |v| to_mp(v, t));
                    (Mp::from(k.as_str()), v)
                })
                .collect(),
        ),
        (v, Type::Dynamic) => {
            let inferred = infer_type(v);
            Mp::Array(vec![Mp::Binary(inferred.to_json().to_string().into_bytes()), to_mp(v, &inferred)])
        }
        // A value whose shape disagrees with the schema type is a provider bug; writing nil keeps
        // the process alive and Terraform reports the inconsistency with the attribute named.
        _ => Mp::Nil,
    }
}

fn infer_type(v: &Value) -> Type {
    match v {
        Value::Bool(_) => Type::Bool,
        Value::Number(_) => Type::Number,
        Value::List(items) => Type::list(items.first().map_or(Type::String, infer_type)),
        Value::Set(items) => Type::set(items.first().map_or(Type::String, infer_type)),
        Value::Map(m) => Type::map(m.values().next().map_or(Type::String, infer_type)),
        Value::Object(m) => Type::Object(m.iter().map(|(k, v)| (k.clone(), infer_type(v))).collect()),
        _ => Type::String,
    }
}
