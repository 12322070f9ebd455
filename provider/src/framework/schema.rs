//! The schema builder. A resource declares its attributes and blocks once; the framework derives
//! the wire schema, the value type used for decoding, validation and planning from it.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::Diagnostics;
use crate::tfvalue::{AttributePath, Type, Value};

/// Checks one known, non-null attribute value and reports problems at its path.
pub type Validator = Arc<dyn Fn(&Value, &AttributePath, &mut Diagnostics) + Send + Sync>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    Required,
    Optional,
    /// Set by the provider only.
    Computed,
    /// Set by the user, or by the provider when the user leaves it out.
    OptionalComputed,
}

#[derive(Clone)]
pub struct Attribute {
    pub name: String,
    pub ty: Type,
    pub presence: Presence,
    pub sensitive: bool,
    pub description: String,
    /// A change to this attribute replaces the remote object.
    pub requires_replace: bool,
    /// Planned when the configuration leaves the attribute out.
    pub default: Option<Value>,
    pub validators: Vec<Validator>,
}

impl std::fmt::Debug for Attribute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attribute")
            .field("name", &self.name)
            .field("ty", &self.ty)
            .field("presence", &self.presence)
            .finish_non_exhaustive()
    }
}

impl Attribute {
    pub fn new(name: &str, ty: Type) -> Self {
        Self {
            name: name.to_string(),
            ty,
            presence: Presence::Optional,
            sensitive: false,
            description: String::new(),
            requires_replace: false,
            default: None,
            validators: Vec::new(),
        }
    }
    pub fn string(name: &str) -> Self {
        Self::new(name, Type::String)
    }
    pub fn number(name: &str) -> Self {
        Self::new(name, Type::Number)
    }
    pub fn bool(name: &str) -> Self {
        Self::new(name, Type::Bool)
    }
    pub fn string_map(name: &str) -> Self {
        Self::new(name, Type::map(Type::String))
    }
    pub fn string_list(name: &str) -> Self {
        Self::new(name, Type::list(Type::String))
    }
    pub fn string_set(name: &str) -> Self {
        Self::new(name, Type::set(Type::String))
    }

    pub fn required(mut self) -> Self {
        self.presence = Presence::Required;
        self
    }
    pub fn optional(mut self) -> Self {
        self.presence = Presence::Optional;
        self
    }
    pub fn computed(mut self) -> Self {
        self.presence = Presence::Computed;
        self
    }
    pub fn optional_computed(mut self) -> Self {
        self.presence = Presence::OptionalComputed;
        self
    }
    pub fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }
    pub fn description(mut self, markdown: &str) -> Self {
        self.description = markdown.to_string();
        self
    }
    pub fn requires_replace(mut self) -> Self {
        self.requires_replace = true;
        self
    }
    /// A default makes the attribute optional and computed: Terraform only accepts a planned value
    /// that differs from the (null) configuration for computed attributes.
    pub fn default(mut self, v: impl Into<Value>) -> Self {
        self.default = Some(v.into());
        self.presence = Presence::OptionalComputed;
        self
    }
    pub fn validate(mut self, v: Validator) -> Self {
        self.validators.push(v);
        self
    }

    pub fn is_computed(&self) -> bool {
        matches!(self.presence, Presence::Computed | Presence::OptionalComputed)
    }
    pub fn is_configurable(&self) -> bool {
        !matches!(self.presence, Presence::Computed)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nesting {
    /// At most one block, as an object (`timeouts.create`); absent is null.
    Single,
    /// Blocks as a list (`health_check[0]`): the form `aws_lb*` resources use, with max_items 1
    /// for optional single blocks.
    List,
    Set,
}

#[derive(Debug, Clone)]
pub struct NestedBlock {
    pub name: String,
    pub nesting: Nesting,
    pub min_items: i64,
    pub max_items: i64,
    pub block: Block,
    pub requires_replace: bool,
}

impl NestedBlock {
    pub fn list(name: &str, block: Block) -> Self {
        Self {
            name: name.to_string(),
            nesting: Nesting::List,
            min_items: 0,
            max_items: 0,
            block,
            requires_replace: false,
        }
    }
    pub fn set(name: &str, block: Block) -> Self {
        Self {
            nesting: Nesting::Set,
            ..Self::list(name, block)
        }
    }
    pub fn single(name: &str, block: Block) -> Self {
        Self {
            nesting: Nesting::Single,
            ..Self::list(name, block)
        }
    }
    /// The blocks present in a value of this nested block.
    pub fn items<'a>(&self, v: &'a Value) -> Vec<&'a Value> {
        match self.nesting {
            Nesting::Single if v.is_set() => vec![v],
            Nesting::Single => Vec::new(),
            _ => v.elements().iter().collect(),
        }
    }
    /// Describes the block (shown in docs and by language servers).
    pub fn with_description(mut self, markdown: &str) -> Self {
        self.block.description = markdown.to_string();
        self
    }
    pub fn max_items(mut self, n: i64) -> Self {
        self.max_items = n;
        self
    }
    pub fn min_items(mut self, n: i64) -> Self {
        self.min_items = n;
        self
    }
    pub fn requires_replace(mut self) -> Self {
        self.requires_replace = true;
        self
    }
    pub fn value_type(&self) -> Type {
        match self.nesting {
            Nesting::Single => self.block.value_type(),
            Nesting::List => Type::list(self.block.value_type()),
            Nesting::Set => Type::set(self.block.value_type()),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Block {
    pub attributes: Vec<Attribute>,
    pub blocks: Vec<NestedBlock>,
    pub description: String,
}

impl Block {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn description(mut self, markdown: &str) -> Self {
        self.description = markdown.to_string();
        self
    }
    pub fn attribute(mut self, a: Attribute) -> Self {
        self.attributes.push(a);
        self
    }
    pub fn block(mut self, b: NestedBlock) -> Self {
        self.blocks.push(b);
        self
    }
    pub fn attr(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    /// The same object read-only, for a data source that looks it up: every attribute computed
    /// except the `lookup` ones (optional and computed), nested blocks as computed attributes of the
    /// same type, and `drop` left out (create-only settings such as `name_prefix` or `timeouts`).
    pub fn as_data_source(&self, lookup: &[&str], drop: &[&str]) -> Block {
        let mut out = Block::new().description(&self.description);
        for a in self.attributes.iter().filter(|a| !drop.contains(&a.name.as_str())) {
            let mut a = a.clone();
            a.presence = if lookup.contains(&a.name.as_str()) {
                Presence::OptionalComputed
            } else {
                Presence::Computed
            };
            a.default = None;
            a.requires_replace = false;
            a.validators.clear();
            out.attributes.push(a);
        }
        for b in self.blocks.iter().filter(|b| !drop.contains(&b.name.as_str())) {
            let mut a = Attribute::new(&b.name, b.value_type()).computed();
            a.description = b.block.description.clone();
            out.attributes.push(a);
        }
        out
    }

    /// The object type of this block's values.
    pub fn value_type(&self) -> Type {
        let mut attrs: BTreeMap<String, Type> = self.attributes.iter().map(|a| (a.name.clone(), a.ty.clone())).collect();
        for b in &self.blocks {
            attrs.insert(b.name.clone(), b.value_type());
        }
        Type::Object(attrs)
    }

    /// Runs attribute validators and block item counts over a configuration value.
    pub fn validate(&self, config: &Value, path: &AttributePath, diags: &mut Diagnostics) {
        for a in &self.attributes {
            let v = config.get(&a.name);
            let p = path.child(&a.name);
            if !a.is_configurable() && !v.is_null() {
                diags.error_at(
                    &p,
                    "Value for unconfigurable attribute",
                    format!("`{}` is set by the provider and cannot be configured.", a.name),
                );
                continue;
            }
            if v.is_set() {
                for check in &a.validators {
                    check(v, &p, diags);
                }
            }
        }
        for b in &self.blocks {
            let v = config.get(&b.name);
            let p = path.child(&b.name);
            if v.is_unknown() {
                continue;
            }
            let items = b.items(v);
            let n = items.len() as i64;
            if b.max_items > 0 && n > b.max_items {
                diags.error_at(
                    &p,
                    "Too many blocks",
                    format!("At most {} `{}` block(s) are allowed, found {n}.", b.max_items, b.name),
                );
            }
            if n < b.min_items {
                diags.error_at(
                    &p,
                    "Missing required block",
                    format!("At least {} `{}` block(s) are required.", b.min_items, b.name),
                );
            }
            for (i, item) in items.into_iter().enumerate() {
                let item_path = if b.nesting == Nesting::Single { p.clone() } else { p.index(i) };
                b.block.validate(item, &item_path, diags);
            }
        }
    }
}

/// A rule across attributes that no single attribute's validator can express. It sees the whole
/// configuration, must tolerate unknown values, and reports at the attribute at fault.
///
/// Terraform validates a configuration again with the values it learns during apply, and again
/// when it plans a destroy; an error that appears only then fails an apply half-way and then
/// blocks the destroy that would clean it up. So a check may decide only from what is known at
/// the first plan: whether an argument or block is present (an unknown value counts as present)
/// and arguments that are written literally (types, protocols, flags). Comparisons of values that
/// usually come from other resources (ARNs, IDs) belong in an [`ApplyCheck`].
pub type Check = fn(&Value, &mut Diagnostics);

/// A rule on values that may be known only once other resources exist (two ARNs that must differ,
/// say). It skips unknown values, so it runs with the other checks in every validation (a literal
/// mistake fails the first plan; later validations only warn, see `ValidateResourceConfig`) and
/// again on the whole configuration just before the create or update call, where it fails that
/// one resource but never blocks `terraform destroy`.
pub type ApplyCheck = fn(&Value, &mut Diagnostics);

/// A versioned schema of a resource, data source or the provider itself.
#[derive(Debug, Clone)]
pub struct Schema {
    pub version: i64,
    pub block: Block,
    /// Cross-attribute rules, run after the attribute validators.
    pub checks: Vec<Check>,
    /// Top-level string attributes where `""` means "not set" (see [`Schema::blank_is_unset`]).
    pub blank_is_unset: &'static [&'static str],
    /// Rules run before a create or update (see [`ApplyCheck`]).
    pub apply_checks: Vec<ApplyCheck>,
    /// Blocks that keep their settings when the configuration leaves them out (see
    /// [`Schema::keeps_blocks`]).
    pub kept_blocks: &'static [&'static str],
}

impl Schema {
    pub fn new(version: i64, block: Block) -> Self {
        Self {
            version,
            block,
            checks: Vec::new(),
            blank_is_unset: &[],
            apply_checks: Vec::new(),
            kept_blocks: &[],
        }
    }
    /// Attributes where a configured `""` means "not set", as terraform-provider-aws's SDK reads
    /// them (`name = ""` gets a generated name there). Such a configuration is planned as if the
    /// attribute were absent; since the plan then differs from the literal configuration, the
    /// framework flags those answers with the protocol's legacy type system bit, which is what
    /// lets Terraform accept this from that SDK's providers.
    pub fn blank_is_unset(mut self, names: &'static [&'static str]) -> Self {
        self.blank_is_unset = names;
        self
    }
    /// Top-level blocks (at most one item) describing settings every object has, such as a target
    /// group's health check: leaving the block out of the configuration means "not managed here",
    /// not "remove", as terraform-provider-aws has them (optional and computed). Where Terraform
    /// accepts it (the legacy type system bit, 1.11 and later) a plan keeps the prior block the
    /// configuration omits, and import shows every block ([`super::Blocks::All`]); older Terraform
    /// plans exactly the configuration, so import shows only blocks that are switched on.
    pub fn keeps_blocks(mut self, names: &'static [&'static str]) -> Self {
        self.kept_blocks = names;
        self
    }
    /// The [`Schema::keeps_blocks`] blocks that `config` leaves out and `prior` has.
    pub fn omitted_kept_blocks(&self, prior: &Value, config: &Value) -> Vec<&'static str> {
        if prior.is_null() || config.is_null() {
            return Vec::new();
        }
        let omitted = |name: &&str| config.get(name).elements().is_empty() && !prior.get(name).elements().is_empty();
        self.kept_blocks.iter().copied().filter(omitted).collect()
    }
    /// Replaces `""` by null in the attributes of [`Schema::blank_is_unset`]; whether it did.
    pub fn unset_blanks(&self, value: &mut Value) -> bool {
        let mut any = false;
        for name in self.blank_is_unset {
            if value.get(name).as_str() == Some("") {
                value.set(name, Value::Null);
                any = true;
            }
        }
        any
    }
    /// Adds a cross-attribute rule (a resource's `model::validate`, say).
    pub fn check(mut self, check: Check) -> Self {
        self.checks.push(check);
        self
    }
    /// Adds a rule run before each create and update.
    pub fn apply_check(mut self, check: ApplyCheck) -> Self {
        self.apply_checks.push(check);
        self
    }
    pub fn value_type(&self) -> Type {
        self.block.value_type()
    }
    /// Everything a configuration must satisfy: attribute validators, block item counts, then the
    /// cross-attribute checks.
    pub fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        self.block.validate(config, &AttributePath::root(), diags);
        for check in self.checks.iter().chain(&self.apply_checks) {
            check(config, diags);
        }
    }
}
