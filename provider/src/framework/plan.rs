//! Planning shared by every resource, as pure functions: apply defaults, mark what only apply can
//! know as unknown, and find the changes that force replacement. Terraform calls PlanResourceChange
//! at plan time and again at apply; both calls must agree, so nothing here looks at AWS.

use super::schema::{Block, Nesting};
use crate::tfvalue::{AttributePath, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub planned: Value,
    pub requires_replace: Vec<AttributePath>,
}

impl Plan {
    pub fn replaces(&self) -> bool {
        !self.requires_replace.is_empty()
    }
}

/// Plans a change from `prior` (null when creating) to the configuration, starting from Terraform's
/// proposed new state (the configuration with prior values filled in for computed attributes).
pub fn plan_change(block: &Block, prior: &Value, proposed: &Value, config: &Value) -> Plan {
    if proposed.is_null() {
        return Plan {
            planned: Value::Null,
            requires_replace: Vec::new(),
        };
    }
    let creating = prior.is_null();
    let planned = fill(block, prior, proposed, config, creating);
    if creating || planned == *prior {
        return Plan {
            planned,
            requires_replace: Vec::new(),
        };
    }
    let mut requires_replace = Vec::new();
    replace_paths(block, prior, &planned, &AttributePath::root(), &mut requires_replace);
    if requires_replace.is_empty() {
        return Plan { planned, requires_replace };
    }
    // A replacement creates a new object: everything the provider computes is new as well.
    let planned = fill(block, &Value::Null, proposed, config, true);
    Plan { planned, requires_replace }
}

/// Defaults for attributes the configuration leaves out, and unknown for computed attributes of
/// objects that do not exist yet. Nested blocks are handled item by item, so a block added on update
/// gets unknowns while an existing one keeps its prior computed values.
fn fill(block: &Block, prior: &Value, proposed: &Value, config: &Value, creating: bool) -> Value {
    let mut out = proposed.clone();
    if !matches!(out, Value::Object(_)) {
        return out;
    }
    for a in &block.attributes {
        let configured = config.get(&a.name);
        if !configured.is_null() || !a.is_computed() {
            continue;
        }
        if let Some(default) = &a.default {
            out.set(&a.name, default.clone());
        } else if creating {
            out.set(&a.name, Value::Unknown);
        }
    }
    for b in &block.blocks {
        let items = proposed.get(&b.name);
        let filled: Vec<Value> = items
            .elements()
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let prior_item = if creating {
                    &Value::Null
                } else {
                    prior.get(&b.name).elements().get(i).unwrap_or(&Value::Null)
                };
                let config_item = config.get(&b.name).elements().get(i).unwrap_or(&Value::Null);
                fill(&b.block, prior_item, item, config_item, creating || prior_item.is_null())
            })
            .collect();
        let filled = match (items, b.nesting) {
            (Value::Null | Value::Unknown, _) => continue,
            (_, Nesting::Set) => Value::Set(filled),
            (_, Nesting::List) => Value::List(filled),
        };
        out.set(&b.name, filled);
    }
    out
}

fn replace_paths(block: &Block, prior: &Value, planned: &Value, path: &AttributePath, out: &mut Vec<AttributePath>) {
    for a in &block.attributes {
        if a.requires_replace && prior.get(&a.name) != planned.get(&a.name) {
            out.push(path.child(&a.name));
        }
    }
    for b in &block.blocks {
        let (p, n) = (prior.get(&b.name), planned.get(&b.name));
        if b.requires_replace && p != n {
            out.push(path.child(&b.name));
            continue;
        }
        for (i, (pi, ni)) in p.elements().iter().zip(n.elements()).enumerate() {
            replace_paths(&b.block, pi, ni, &path.child(&b.name).index(i), out);
        }
    }
}
