//! Conversions between the framework's types and the generated tfplugin6 messages. Nothing outside
//! this file and `server.rs` touches protocol types.

use super::schema::{Attribute, Block, Nesting, Presence, Schema};
use super::{Diagnostics, Severity};
use crate::proto::tfplugin6 as pb;
use crate::tfvalue::{decode_msgpack, encode_msgpack, AttributePath, Step, Type, Value};

pub fn schema_to_proto(s: &Schema) -> pb::Schema {
    pb::Schema {
        version: s.version,
        block: Some(block_to_proto(&s.block, s.version)),
    }
}

fn block_to_proto(b: &Block, version: i64) -> pb::schema::Block {
    pb::schema::Block {
        version,
        attributes: b.attributes.iter().map(attribute_to_proto).collect(),
        block_types: b
            .blocks
            .iter()
            .map(|nb| pb::schema::NestedBlock {
                type_name: nb.name.clone(),
                block: Some(block_to_proto(&nb.block, 0)),
                nesting: match nb.nesting {
                    Nesting::Single => pb::schema::nested_block::NestingMode::Single,
                    Nesting::List => pb::schema::nested_block::NestingMode::List,
                    Nesting::Set => pb::schema::nested_block::NestingMode::Set,
                } as i32,
                min_items: nb.min_items,
                max_items: nb.max_items,
            })
            .collect(),
        description: b.description.clone(),
        description_kind: pb::StringKind::Markdown as i32,
        deprecated: false,
        deprecation_message: String::new(),
    }
}

fn attribute_to_proto(a: &Attribute) -> pb::schema::Attribute {
    pb::schema::Attribute {
        name: a.name.clone(),
        r#type: a.ty.to_json().to_string().into_bytes(),
        nested_type: None,
        description: a.description.clone(),
        required: a.presence == Presence::Required,
        optional: matches!(a.presence, Presence::Optional | Presence::OptionalComputed),
        computed: a.is_computed(),
        sensitive: a.sensitive,
        description_kind: pb::StringKind::Markdown as i32,
        deprecated: false,
        deprecation_message: String::new(),
        write_only: false,
    }
}

pub fn path_to_proto(p: &AttributePath) -> pb::AttributePath {
    use pb::attribute_path::step::Selector;
    pb::AttributePath {
        steps: p
            .0
            .iter()
            .map(|s| pb::attribute_path::Step {
                selector: Some(match s {
                    Step::Attr(n) => Selector::AttributeName(n.clone()),
                    Step::Index(i) => Selector::ElementKeyInt(*i),
                    Step::Key(k) => Selector::ElementKeyString(k.clone()),
                }),
            })
            .collect(),
    }
}

pub fn diagnostics_to_proto(d: &Diagnostics) -> Vec<pb::Diagnostic> {
    d.0.iter()
        .map(|d| pb::Diagnostic {
            severity: match d.severity {
                Severity::Error => pb::diagnostic::Severity::Error,
                Severity::Warning => pb::diagnostic::Severity::Warning,
            } as i32,
            summary: d.summary.clone(),
            detail: d.detail.clone(),
            attribute: d.path.as_ref().filter(|p| !p.is_root()).map(path_to_proto),
        })
        .collect()
}

/// Decodes a DynamicValue; a missing value is null. Malformed input becomes a diagnostic.
pub fn decode_dynamic(v: Option<&pb::DynamicValue>, ty: &Type, what: &str, diags: &mut Diagnostics) -> Value {
    let Some(v) = v else { return Value::Null };
    let result = if !v.msgpack.is_empty() {
        decode_msgpack(&v.msgpack, ty)
    } else if !v.json.is_empty() {
        crate::tfvalue::decode_json(&v.json, ty)
    } else {
        Ok(Value::Null)
    };
    result.unwrap_or_else(|e| {
        diags.error(format!("Invalid {what} received from Terraform"), e.to_string());
        Value::Null
    })
}

pub fn encode_dynamic(v: &Value, ty: &Type) -> pb::DynamicValue {
    pb::DynamicValue {
        msgpack: encode_msgpack(v, ty),
        json: Vec::new(),
    }
}

/// Nested blocks are never null in Terraform's eyes: an absent block is an empty list or set.
pub fn normalize_blocks(block: &Block, v: &mut Value) {
    if !matches!(v, Value::Object(_)) {
        return;
    }
    for b in &block.blocks {
        let empty = match b.nesting {
            // An absent single block is null.
            Nesting::Single => {
                if let Some(item) = v.get_mut(&b.name) {
                    normalize_blocks(&b.block, item);
                }
                continue;
            }
            Nesting::List => Value::List(Vec::new()),
            Nesting::Set => Value::Set(Vec::new()),
        };
        match v.get_mut(&b.name) {
            Some(Value::List(items) | Value::Set(items)) => {
                for item in items {
                    normalize_blocks(&b.block, item);
                }
            }
            Some(Value::Unknown) => {}
            _ => v.set(&b.name, empty),
        }
    }
}
