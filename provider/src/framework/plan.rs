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
    plan_change_with(block, prior, proposed, config, Vec::new())
}

/// Like [`plan_change`], with replacement triggers the resource found itself (changes that replace
/// the object only in some cases, such as a network load balancer's subnets). They count only when
/// something changes at all.
pub fn plan_change_with(block: &Block, prior: &Value, proposed: &Value, config: &Value, extra_replace: Vec<AttributePath>) -> Plan {
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
    let mut requires_replace = extra_replace;
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
        if b.nesting == Nesting::Single {
            if items.is_set() {
                let prior_item = if creating { &Value::Null } else { prior.get(&b.name) };
                let item = fill(&b.block, prior_item, items, config.get(&b.name), creating || prior_item.is_null());
                out.set(&b.name, item);
            }
            continue;
        }
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
            (_, Nesting::List | Nesting::Single) => Value::List(filled),
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
        if b.nesting == Nesting::Single {
            replace_paths(&b.block, p, n, &path.child(&b.name), out);
            continue;
        }
        for (i, (pi, ni)) in p.elements().iter().zip(n.elements()).enumerate() {
            replace_paths(&b.block, pi, ni, &path.child(&b.name).index(i), out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::schema::{Attribute, NestedBlock};

    fn block() -> Block {
        Block::new()
            .attribute(Attribute::string("arn").computed())
            .attribute(Attribute::string("name").optional_computed().requires_replace())
            .attribute(Attribute::number("port").requires_replace())
            .attribute(Attribute::number("delay").default(300))
            .attribute(Attribute::string("note"))
            .block(
                NestedBlock::list(
                    "check",
                    Block::new()
                        .attribute(Attribute::string("path").optional_computed())
                        .attribute(Attribute::number("interval").optional_computed()),
                )
                .max_items(1),
            )
    }

    fn config(port: i64, note: Option<&str>, check_path: Option<&str>) -> Value {
        Value::object([
            ("arn", Value::Null),
            ("name", Value::Null),
            ("port", Value::int(port)),
            ("delay", Value::Null),
            ("note", Value::opt_string(note)),
            (
                "check",
                Value::List(
                    check_path
                        .map(|p| Value::object([("path", Value::string(p)), ("interval", Value::Null)]))
                        .into_iter()
                        .collect(),
                ),
            ),
        ])
    }

    #[test]
    fn create_marks_computed_unknown_and_applies_defaults() {
        let cfg = config(80, None, Some("/"));
        let plan = plan_change(&block(), &Value::Null, &cfg, &cfg);
        assert_eq!(plan.planned.get("arn"), &Value::Unknown);
        assert_eq!(plan.planned.get("name"), &Value::Unknown);
        assert_eq!(plan.planned.get("delay").as_i64(), Some(300));
        assert_eq!(plan.planned.get("note"), &Value::Null, "optional, not computed: stays null");
        assert_eq!(plan.planned.first_block("check").get("interval"), &Value::Unknown);
        assert_eq!(plan.planned.first_block("check").get("path"), &Value::string("/"));
        assert!(plan.requires_replace.is_empty());
    }

    fn applied(port: i64, note: Option<&str>) -> Value {
        Value::object([
            ("arn", Value::string("arn:1")),
            ("name", Value::string("tf-1")),
            ("port", Value::int(port)),
            ("delay", Value::int(300)),
            ("note", Value::opt_string(note)),
            (
                "check",
                Value::List(vec![Value::object([("path", Value::string("/")), ("interval", Value::int(30))])]),
            ),
        ])
    }

    /// Terraform's proposed new state: config, with prior values for computed attributes left out.
    fn proposed(prior: &Value, cfg: &Value) -> Value {
        let mut p = cfg.clone();
        for name in ["arn", "name", "delay"] {
            if cfg.get(name).is_null() {
                p.set(name, prior.get(name).clone());
            }
        }
        let mut check = cfg.first_block("check").clone();
        if check.get("interval").is_null() {
            check.set("interval", prior.first_block("check").get("interval").clone());
        }
        p.set("check", Value::List(vec![check]));
        p
    }

    #[test]
    fn unchanged_config_plans_the_prior_state() {
        let prior = applied(80, None);
        let cfg = config(80, None, Some("/"));
        let plan = plan_change(&block(), &prior, &proposed(&prior, &cfg), &cfg);
        assert_eq!(plan.planned, prior);
        assert!(!plan.replaces());
    }

    #[test]
    fn in_place_change_keeps_computed_values() {
        let prior = applied(80, None);
        let cfg = config(80, Some("hello"), Some("/"));
        let plan = plan_change(&block(), &prior, &proposed(&prior, &cfg), &cfg);
        assert!(!plan.replaces());
        assert_eq!(plan.planned.get("arn"), &Value::string("arn:1"));
        assert_eq!(plan.planned.get("note"), &Value::string("hello"));
    }

    #[test]
    fn replacement_lists_the_path_and_forgets_computed_values() {
        let prior = applied(80, None);
        let cfg = config(81, None, Some("/"));
        let plan = plan_change(&block(), &prior, &proposed(&prior, &cfg), &cfg);
        assert_eq!(plan.requires_replace, vec![AttributePath::attr("port")]);
        assert_eq!(plan.planned.get("arn"), &Value::Unknown);
        assert_eq!(plan.planned.get("delay").as_i64(), Some(300), "defaults stay known");
    }

    #[test]
    fn resource_triggers_replace_only_when_something_changes() {
        let prior = applied(80, None);
        let cfg = config(80, Some("changed"), Some("/"));
        let trigger = || vec![AttributePath::attr("note")];
        let plan = plan_change_with(&block(), &prior, &proposed(&prior, &cfg), &cfg, trigger());
        assert_eq!(plan.requires_replace, trigger());
        assert_eq!(plan.planned.get("arn"), &Value::Unknown);
        let same = config(80, None, Some("/"));
        assert!(!plan_change_with(&block(), &prior, &proposed(&prior, &same), &same, trigger()).replaces());
    }

    #[test]
    fn single_blocks_plan_as_objects() {
        let b = Block::new().block(NestedBlock::single(
            "timeouts",
            Block::new()
                .attribute(Attribute::string("create").default("10m"))
                .attribute(Attribute::string("id").computed()),
        ));
        let cfg = Value::object([("timeouts", Value::object([("create", Value::Null), ("id", Value::Null)]))]);
        let plan = plan_change(&b, &Value::Null, &cfg, &cfg);
        assert_eq!(plan.planned.get("timeouts").get("create"), &Value::string("10m"));
        assert_eq!(plan.planned.get("timeouts").get("id"), &Value::Unknown);
        let absent = Value::object([("timeouts", Value::Null)]);
        assert_eq!(
            plan_change(&b, &Value::Null, &absent, &absent).planned.get("timeouts"),
            &Value::Null
        );
        let mut d = crate::framework::Diagnostics::new();
        b.validate(
            &Value::object([("timeouts", Value::object([("create", Value::Null)]))]),
            &AttributePath::root(),
            &mut d,
        );
        assert!(d.is_empty());
    }

    #[test]
    fn destroy_plans_null() {
        let plan = plan_change(&block(), &applied(80, None), &Value::Null, &Value::Null);
        assert!(plan.planned.is_null());
    }
}
