//! The registry pages under `docs/` are rendered from the schemas: this test fails when a page
//! differs from what the code would write (run with `TGBIND_BLESS=1` to rewrite them, or
//! `bash scripts/gen-docs.sh`), and every page's example passes `terraform validate` against the
//! provider binary, so neither the argument lists nor the examples can drift.

mod support;

use std::path::{Path, PathBuf};

use support::{terraforms, Moto, Workdir};
use terraform_provider_elbv2::docs::{render_page, PageKind};
use terraform_provider_elbv2::framework::{Block, ProviderDefinition};
use terraform_provider_elbv2::provider::Elbv2Provider;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// (page path under docs/, example path under examples/, rendered page).
fn pages() -> Vec<(PathBuf, PathBuf, String)> {
    let provider = Elbv2Provider::new();
    let example = |p: &Path| std::fs::read_to_string(repo().join("examples").join(p)).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let mut out = Vec::new();
    let p = PathBuf::from("provider/provider.tf");
    out.push((
        PathBuf::from("index.md"),
        p.clone(),
        render_page(PageKind::Provider, "elbv2", provider.schema(), &example(&p)),
    ));
    for r in provider.resources() {
        let name = r.type_name();
        let p = PathBuf::from(format!("resources/{name}/resource.tf"));
        let doc = PathBuf::from(format!("resources/{}.md", name.trim_start_matches("elbv2_")));
        let page = render_page(PageKind::Resource(r.import_id()), name, &r.schema(), &example(&p));
        out.push((doc, p.clone(), page));
    }
    for d in provider.data_sources() {
        let name = d.type_name();
        let p = PathBuf::from(format!("data-sources/{name}/data-source.tf"));
        let doc = PathBuf::from(format!("data-sources/{}.md", name.trim_start_matches("elbv2_")));
        out.push((doc, p.clone(), render_page(PageKind::DataSource, name, &d.schema(), &example(&p))));
    }
    out
}

#[test]
fn docs_match_the_schemas() {
    let bless = std::env::var_os("TGBIND_BLESS").is_some();
    let mut stale = Vec::new();
    for (doc, _, rendered) in pages() {
        let path = repo().join("docs").join(&doc);
        if bless {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &rendered).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(rendered.as_str()) {
            stale.push(doc.display().to_string());
        }
    }
    assert!(stale.is_empty(), "docs out of date (run `bash scripts/gen-docs.sh`): {stale:?}");
}

/// Every attribute and block of every schema, at any depth, has its line in the committed page.
#[test]
fn every_page_lists_every_argument_and_attribute() {
    fn names(block: &Block, out: &mut Vec<String>) {
        out.extend(block.attributes.iter().map(|a| a.name.clone()));
        for b in &block.blocks {
            out.push(b.name.clone());
            names(&b.block, out);
        }
    }
    let provider = Elbv2Provider::new();
    let mut schemas = vec![("index.md".to_string(), provider.schema().clone())];
    schemas.extend(
        provider
            .resources()
            .iter()
            .map(|r| (format!("resources/{}.md", &r.type_name()[6..]), r.schema())),
    );
    schemas.extend(
        provider
            .data_sources()
            .iter()
            .map(|d| (format!("data-sources/{}.md", &d.type_name()[6..]), d.schema())),
    );
    for (doc, schema) in schemas {
        let page = std::fs::read_to_string(repo().join("docs").join(&doc)).unwrap_or_else(|e| panic!("docs/{doc}: {e}"));
        let mut all = Vec::new();
        names(&schema.block, &mut all);
        for name in all {
            assert!(page.contains(&format!("- `{name}` (")), "docs/{doc} does not document `{name}`");
        }
    }
}

#[test]
fn examples_pass_terraform_validate() {
    let moto = Moto::start();
    for tf in terraforms() {
        for (doc, example, _) in pages() {
            let w = Workdir::new(&tf, &moto);
            let text = std::fs::read_to_string(repo().join("examples").join(&example)).unwrap();
            if !text.contains("required_providers") {
                w.write_raw(
                    "versions.tf",
                    "terraform {\n  required_providers {\n    elbv2 = { source = \"tgbind/elbv2\" }\n  }\n}\n",
                );
            }
            w.write_raw("main.tf", &text);
            let fmt = w.terraform(&["fmt", "-check", "-diff", "-no-color", "main.tf"]);
            assert!(fmt.ok, "examples/{} is not fmt clean:\n{}", example.display(), fmt.all());
            let run = w.terraform(&["validate", "-no-color"]);
            assert!(
                run.ok,
                "[{}] example of {} does not validate:\n{}",
                tf.version,
                doc.display(),
                run.all()
            );
        }
    }
}
