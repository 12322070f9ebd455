//! The corpus of invalid Terraform configurations in `tests/corpus/terraform/`: each file names the
//! diagnostic it must produce (`# expect:`) and the attribute Terraform must point at (`# at:`, empty
//! when the argument is absent and has no line). Planned with every Terraform under test; nothing
//! may be created and the provider must not crash.

mod support;

use std::path::PathBuf;

use support::{terraforms, Moto, Workdir};

fn corpus() -> Vec<(String, String, String, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/terraform");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let field = |key: &str| {
                text.lines()
                    .find_map(|l| l.strip_prefix(key))
                    .unwrap_or_else(|| panic!("{} lacks `{key}`", path.display()))
                    .trim()
                    .to_string()
            };
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                field("# expect:"),
                field("# at:"),
                text,
            )
        })
        .collect()
}

#[tokio::test]
async fn every_invalid_config_fails_with_a_pointed_diagnostic_and_creates_nothing() {
    let cases = corpus();
    assert!(cases.len() >= 30, "the corpus has {} cases", cases.len());
    for tf in terraforms() {
        let moto = Moto::start();
        let w = Workdir::new(&tf, &moto);
        for (file, expect, at, body) in &cases {
            w.write_config(body);
            let run = w.terraform(&["plan", "-no-color", "-input=false"]);
            let all = run.all();
            // Terraform wraps long details: compare with whitespace collapsed.
            let flat = all.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(!run.ok, "[{}] {file}: the plan succeeded:\n{all}", tf.version);
            assert!(flat.contains(expect), "[{}] {file}: expected {expect:?} in:\n{all}", tf.version);
            assert!(
                at.is_empty() || all.contains(&format!("{at} ")) || all.contains(&format!("{at}\n")),
                "[{}] {file}: no pointer at {at:?}:\n{all}",
                tf.version
            );
            assert!(
                !flat.contains("panicked") && !flat.contains("plugin exited"),
                "[{}] {file}: provider crashed:\n{all}",
                tf.version
            );
        }
        let elb = moto.elbv2().await;
        assert!(elb.describe_load_balancers().send().await.unwrap().load_balancers().is_empty());
        assert!(elb.describe_target_groups().send().await.unwrap().target_groups().is_empty());
    }
}
