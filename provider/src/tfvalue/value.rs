use std::collections::BTreeMap;

use super::{AttributePath, Step};

/// A Terraform value. `Unknown` is a value that will only be known after apply; `Null` is absent.
/// Lists, sets and maps carry elements of one type; objects carry the attributes of their type.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    #[default]
    Null,
    Unknown,
    Bool(bool),
    Number(f64),
    String(String),
    List(Vec<Value>),
    Set(Vec<Value>),
    Map(BTreeMap<String, Value>),
    Object(BTreeMap<String, Value>),
}

impl Value {
    pub fn string(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }

    /// `Some(v)` as a value, `None` as null.
    pub fn opt_string(s: Option<impl Into<String>>) -> Value {
        s.map_or(Value::Null, |s| Value::String(s.into()))
    }
    pub fn opt_i64(n: Option<i64>) -> Value {
        n.map_or(Value::Null, |n| Value::Number(n as f64))
    }
    pub fn opt_bool(b: Option<bool>) -> Value {
        b.map_or(Value::Null, Value::Bool)
    }
    pub fn int(n: i64) -> Value {
        Value::Number(n as f64)
    }
    pub fn string_map<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Value {
        Value::Map(pairs.into_iter().map(|(k, v)| (k.into(), Value::String(v.into()))).collect())
    }
    pub fn string_list<S: Into<String>>(items: impl IntoIterator<Item = S>) -> Value {
        Value::List(items.into_iter().map(|s| Value::String(s.into())).collect())
    }
    pub fn string_set<S: Into<String>>(items: impl IntoIterator<Item = S>) -> Value {
        let mut v: Vec<Value> = items.into_iter().map(|s| Value::String(s.into())).collect();
        v.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
        v.dedup();
        Value::Set(v)
    }
    pub fn object<K: Into<String>>(pairs: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Object(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
    pub fn is_unknown(&self) -> bool {
        matches!(self, Value::Unknown)
    }
    /// Known and not null: a value the user (or AWS) actually set.
    pub fn is_set(&self) -> bool {
        !self.is_null() && !self.is_unknown()
    }
    /// True when no unknown appears anywhere inside.
    pub fn is_wholly_known(&self) -> bool {
        match self {
            Value::Unknown => false,
            Value::List(items) | Value::Set(items) => items.iter().all(Value::is_wholly_known),
            Value::Map(m) | Value::Object(m) => m.values().all(Value::is_wholly_known),
            _ => true,
        }
    }

    /// Replaces every unknown inside with null: a state returned after apply must be wholly known,
    /// and a partial state (an object created, a later step failed) still has to be recorded.
    pub fn unknowns_to_null(&mut self) {
        match self {
            Value::Unknown => *self = Value::Null,
            Value::List(items) | Value::Set(items) => items.iter_mut().for_each(Value::unknowns_to_null),
            Value::Map(m) | Value::Object(m) => m.values_mut().for_each(Value::unknowns_to_null),
            _ => {}
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }
    /// The number as an integer, when it is one.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => Some(*n as i64),
            _ => None,
        }
    }
    /// Elements of a list or set (empty for null).
    pub fn elements(&self) -> &[Value] {
        match self {
            Value::List(items) | Value::Set(items) => items,
            _ => &[],
        }
    }
    pub fn entries(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Map(m) | Value::Object(m) => Some(m),
            _ => None,
        }
    }
    /// A map of strings as Rust pairs; non-string values are skipped.
    pub fn as_string_map(&self) -> BTreeMap<String, String> {
        self.entries()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// An object attribute; `Null` when this is not an object or lacks it.
    pub fn get(&self, name: &str) -> &Value {
        static NULL: Value = Value::Null;
        match self {
            Value::Object(m) => m.get(name).unwrap_or(&NULL),
            _ => &NULL,
        }
    }
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Value> {
        match self {
            Value::Object(m) => m.get_mut(name),
            _ => None,
        }
    }
    /// Sets an object attribute (no effect on non-objects).
    pub fn set(&mut self, name: &str, v: Value) {
        if let Value::Object(m) = self {
            m.insert(name.to_string(), v);
        }
    }
    /// The first element of a single-item block (`health_check[0]`), or null.
    pub fn first_block(&self, name: &str) -> &Value {
        static NULL: Value = Value::Null;
        self.get(name).elements().first().unwrap_or(&NULL)
    }

    /// The value at a path; `Null` when any step is missing.
    pub fn at(&self, path: &AttributePath) -> &Value {
        static NULL: Value = Value::Null;
        let mut cur = self;
        for step in &path.0 {
            cur = match (step, cur) {
                (Step::Attr(n), Value::Object(m)) => m.get(n).unwrap_or(&NULL),
                (Step::Key(k), Value::Map(m)) => m.get(k).unwrap_or(&NULL),
                (Step::Index(i), Value::List(items) | Value::Set(items)) => items.get(*i as usize).unwrap_or(&NULL),
                _ => return &NULL,
            };
        }
        cur
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Number(n as f64)
    }
}
