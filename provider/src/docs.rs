//! Registry-style documentation rendered from the schemas, so the pages list exactly the
//! arguments and attributes the provider has. `tests/docs.rs` compares the committed pages under
//! `docs/` with this output (and rewrites them with `TGBIND_BLESS=1`).

use std::fmt::Write;

use crate::framework::{Block, ImportId, NestedBlock, Nesting, Presence, Schema};
use crate::tfvalue::Type;

#[derive(Debug, Clone, Copy)]
pub enum PageKind {
    Provider,
    /// A resource, with how its objects are imported.
    Resource(ImportId),
    DataSource,
}

impl PageKind {
    fn title(self) -> &'static str {
        match self {
            PageKind::Provider => "Provider",
            PageKind::Resource(_) => "Resource",
            PageKind::DataSource => "Data Source",
        }
    }
}

/// One page: front matter, description, example, schema, and for resources how to import.
pub fn render_page(kind: PageKind, name: &str, schema: &Schema, example: &str) -> String {
    let mut out = String::new();
    let summary = first_sentence(&schema.block.description);
    let _ = writeln!(
        out,
        "---\npage_title: \"{name} {} - elbv2\"\ndescription: |-\n  {summary}\n---\n",
        kind.title()
    );
    let _ = writeln!(out, "# {name} ({})\n", kind.title());
    let _ = writeln!(out, "{}\n", schema.block.description);
    let _ = writeln!(out, "## Example Usage\n\n```terraform\n{}\n```\n", example.trim_end());
    out.push_str("## Schema\n");
    let mut nested = Vec::new();
    render_block(&mut out, &schema.block, "", &mut nested);
    while let Some((anchor, title, block)) = nested.first().cloned() {
        nested.remove(0);
        let _ = writeln!(out, "\n<a id=\"{anchor}\"></a>\n### Nested Schema for `{title}`");
        if !block.description.is_empty() {
            let _ = writeln!(out, "\n{}", block.description);
        }
        let mut more = Vec::new();
        render_block(&mut out, &block, &format!("{title}."), &mut more);
        nested.extend(more);
    }
    if let PageKind::Resource(id) = kind {
        let _ = writeln!(
            out,
            "\n## Import\n\nImport by {}:\n\n```shell\nterraform import {name}.example {}\n```",
            id.description, id.example
        );
        if !schema.kept_blocks.is_empty() {
            let blocks: Vec<String> = schema.kept_blocks.iter().map(|b| format!("`{b}`")).collect();
            let _ = writeln!(
                out,
                "
{} describe settings every object has: a configuration that leaves one out leaves \
                 those settings as they are (terraform-provider-aws's optional and computed blocks). \
                 With Terraform 1.11 and later, import shows each of them, so a configuration that \
                 states them and one that leaves them out both plan no changes. Older Terraform plans \
                 blocks exactly as written, so there import shows a block only where the object \
                 differs from AWS's defaults (or the feature is switched on): state those blocks and \
                 leave out the ones at their defaults.",
                blocks.join(", ")
            );
        }
    }
    out
}

fn first_sentence(text: &str) -> String {
    let end = text.find(". ").map_or(text.len(), |i| i + 1);
    text[..end].replace('\n', " ")
}

/// Attributes by presence, then nested blocks; nested schemas are queued as (anchor, title, block).
fn render_block(out: &mut String, block: &Block, prefix: &str, nested: &mut Vec<(String, String, Block)>) {
    let sections = [
        ("Required", Presence::Required),
        ("Optional", Presence::Optional),
        ("Read-Only", Presence::Computed),
    ];
    for (title, presence) in sections {
        let mut lines = Vec::new();
        for a in &block.attributes {
            let group = match a.presence {
                Presence::OptionalComputed => Presence::Optional,
                p => p,
            };
            if group != presence {
                continue;
            }
            let mut line = format!("- `{}` ({}", a.name, type_name(&a.ty));
            if a.sensitive {
                line.push_str(", Sensitive");
            }
            line.push(')');
            if !a.description.is_empty() {
                let _ = write!(line, " {}", a.description);
            }
            if a.requires_replace {
                line.push_str(" Changing it replaces the object.");
            }
            if let Some(object) = object_type(&a.ty) {
                let anchor = anchor(prefix, &a.name);
                let _ = write!(line, " (see [below for nested schema](#{anchor}))");
                let mut b = Block::new();
                for (k, t) in object {
                    b = b.attribute(crate::framework::Attribute::new(k, t.clone()).computed());
                }
                nested.push((anchor, format!("{prefix}{}", a.name), b));
            }
            lines.push(line);
        }
        for b in block.blocks.iter().filter(|b| block_presence(b) == presence) {
            let anchor = anchor(prefix, &b.name);
            let mut line = format!("- `{}` ({}) ", b.name, block_type(b));
            if !b.block.description.is_empty() {
                let _ = write!(line, "{} ", b.block.description);
            }
            if b.requires_replace {
                line.push_str("Changing it replaces the object. ");
            }
            let _ = write!(line, "(see [below for nested schema](#{anchor}))");
            nested.push((anchor, format!("{prefix}{}", b.name), b.block.clone()));
            lines.push(line);
        }
        if !lines.is_empty() {
            let _ = writeln!(out, "\n### {title}\n\n{}", lines.join("\n"));
        }
    }
}

fn block_presence(b: &NestedBlock) -> Presence {
    if b.min_items > 0 {
        Presence::Required
    } else {
        Presence::Optional
    }
}

fn anchor(prefix: &str, name: &str) -> String {
    format!("nestedblock--{}{name}", prefix.replace('.', "--"))
}

fn block_type(b: &NestedBlock) -> String {
    let mut s = match b.nesting {
        Nesting::Single => "Block".to_string(),
        Nesting::List => "Block List".to_string(),
        Nesting::Set => "Block Set".to_string(),
    };
    if b.min_items > 0 {
        let _ = write!(s, ", Min: {}", b.min_items);
    }
    if b.max_items > 0 {
        let _ = write!(s, ", Max: {}", b.max_items);
    }
    s
}

/// The object type inside an attribute (itself or its elements), for a nested schema section.
fn object_type(t: &Type) -> Option<&std::collections::BTreeMap<String, Type>> {
    match t {
        Type::Object(m) => Some(m),
        Type::List(e) | Type::Set(e) | Type::Map(e) => object_type(e),
        _ => None,
    }
}

fn type_name(t: &Type) -> String {
    match t {
        Type::String => "String".into(),
        Type::Number => "Number".into(),
        Type::Bool => "Boolean".into(),
        Type::List(e) => format!("List of {}", type_name(e)),
        Type::Set(e) => format!("Set of {}", type_name(e)),
        Type::Map(e) => format!("Map of {}", type_name(e)),
        Type::Object(_) => "Object".into(),
        Type::Dynamic => "Dynamic".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Attribute;

    #[test]
    fn pages_list_every_attribute_in_its_section() {
        let block = Block::new()
            .description("A thing. More words.")
            .attribute(Attribute::string("name").required().description("The name.").requires_replace())
            .attribute(Attribute::number("size").default(1).description("Size."))
            .attribute(Attribute::string("arn").computed().description("ARN."))
            .block(NestedBlock::list("rule", Block::new().attribute(Attribute::string("path").required())).min_items(1));
        let import = ImportId {
            description: "a thing ARN",
            example: "arn:thing",
            accepts: |_| true,
        };
        let page = render_page(
            PageKind::Resource(import),
            "elbv2_thing",
            &Schema::new(0, block),
            "resource \"elbv2_thing\" \"x\" {}\n",
        );
        assert!(page.contains("description: |-\n  A thing.\n"));
        assert!(
            page.contains("### Required\n\n- `name` (String) The name. Changing it replaces the object.\n- `rule` (Block List, Min: 1)")
        );
        assert!(page.contains("### Optional\n\n- `size` (Number) Size."));
        assert!(page.contains("### Read-Only\n\n- `arn` (String) ARN."));
        assert!(page.contains("### Nested Schema for `rule`\n\n### Required\n\n- `path` (String)"));
        assert!(page.contains("Import by a thing ARN:\n\n```shell\nterraform import elbv2_thing.example arn:thing\n```"));
    }
}
