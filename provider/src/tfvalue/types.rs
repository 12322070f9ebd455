use std::collections::BTreeMap;

/// A cty type, as Terraform declares attribute types in schemas and decodes values with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Type {
    String,
    Number,
    Bool,
    List(Box<Type>),
    Set(Box<Type>),
    Map(Box<Type>),
    Object(BTreeMap<String, Type>),
    /// Any type; values of it travel with their type on the wire (`[type-json, value]`).
    Dynamic,
}

impl Type {
    pub fn list(of: Type) -> Type {
        Type::List(Box::new(of))
    }
    pub fn set(of: Type) -> Type {
        Type::Set(Box::new(of))
    }
    pub fn map(of: Type) -> Type {
        Type::Map(Box::new(of))
    }

    /// The JSON type constraint syntax Terraform expects in `Schema.Attribute.type`.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            Type::String => json!("string"),
            Type::Number => json!("number"),
            Type::Bool => json!("bool"),
            Type::Dynamic => json!("dynamic"),
            Type::List(t) => json!(["list", t.to_json()]),
            Type::Set(t) => json!(["set", t.to_json()]),
            Type::Map(t) => json!(["map", t.to_json()]),
            Type::Object(attrs) => {
                let fields: serde_json::Map<String, serde_json::Value> = attrs.iter().map(|(k, t)| (k.clone(), t.to_json())).collect();
                json!(["object", fields])
            }
        }
    }

    /// Parses the JSON type syntax (used by dynamic values on the wire).
    pub fn from_json(json: &serde_json::Value) -> Option<Type> {
        use serde_json::Value as J;
        match json {
            J::String(s) => match s.as_str() {
                "string" => Some(Type::String),
                "number" => Some(Type::Number),
                "bool" => Some(Type::Bool),
                "dynamic" => Some(Type::Dynamic),
                _ => None,
            },
            J::Array(parts) if parts.len() == 2 => {
                let kind = parts[0].as_str()?;
                match kind {
                    "list" => Some(Type::list(Type::from_json(&parts[1])?)),
                    "set" => Some(Type::set(Type::from_json(&parts[1])?)),
                    "map" => Some(Type::map(Type::from_json(&parts[1])?)),
                    "object" => {
                        let fields = parts[1].as_object()?;
                        let mut attrs = BTreeMap::new();
                        for (k, v) in fields {
                            attrs.insert(k.clone(), Type::from_json(v)?);
                        }
                        Some(Type::Object(attrs))
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }

    pub fn describe(&self) -> String {
        self.to_json().to_string()
    }
}
