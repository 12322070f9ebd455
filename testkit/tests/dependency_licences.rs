//! Every dependency of the workspace (normal and build, as shipped) carries a licence we may ship
//! under, checked offline from the local registry through `cargo tree`.

use std::collections::BTreeSet;
use std::process::Command;

/// Permissive licences (and MPL-2.0, file-level copyleft: fine to link, changes to those files stay
/// open). Anything else fails the test until someone decides.
const ALLOWED: &[&str] = &[
    "MIT",
    "MIT-0",
    "Apache-2.0",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "ISC",
    "Zlib",
    "Unicode-3.0",
    "Unicode-DFS-2016",
    "Unlicense",
    "CC0-1.0",
    "BSL-1.0",
    "CDLA-Permissive-2.0",
    "MPL-2.0",
    "0BSD",
    "OpenSSL",
];

/// Whether an SPDX expression is satisfiable with allowed licences: OR needs one side, AND both.
/// Old-style `A/B` means `A OR B`; `X WITH exception` counts as `X`.
fn acceptable(expr: &str) -> bool {
    let normalized = expr.replace('/', " OR ").replace('(', " ( ").replace(')', " ) ");
    let tokens: Vec<&str> = normalized.split_whitespace().collect();
    let mut pos = 0;
    parse_or(&tokens, &mut pos) && pos == tokens.len()
}

fn parse_or(t: &[&str], pos: &mut usize) -> bool {
    let mut ok = parse_and(t, pos);
    while t.get(*pos) == Some(&"OR") {
        *pos += 1;
        ok |= parse_and(t, pos);
    }
    ok
}

fn parse_and(t: &[&str], pos: &mut usize) -> bool {
    let mut ok = parse_atom(t, pos);
    while t.get(*pos) == Some(&"AND") {
        *pos += 1;
        ok &= parse_atom(t, pos);
    }
    ok
}

fn parse_atom(t: &[&str], pos: &mut usize) -> bool {
    match t.get(*pos) {
        Some(&"(") => {
            *pos += 1;
            let ok = parse_or(t, pos);
            if t.get(*pos) == Some(&")") {
                *pos += 1;
            }
            ok
        }
        Some(id) => {
            *pos += 1;
            if t.get(*pos) == Some(&"WITH") {
                *pos += 2;
            }
            ALLOWED.contains(id)
        }
        None => false,
    }
}

#[test]
fn spdx_expressions_are_evaluated() {
    assert!(acceptable("MIT OR Apache-2.0"));
    assert!(acceptable("Apache-2.0 WITH LLVM-exception OR Apache-2.0 OR MIT"));
    assert!(acceptable("ISC AND (Apache-2.0 OR ISC) AND OpenSSL"));
    assert!(acceptable("MIT/Apache-2.0"));
    assert!(acceptable("MIT OR Apache-2.0 OR LGPL-2.1-or-later"));
    assert!(!acceptable("GPL-3.0-only"));
    assert!(!acceptable("MIT AND GPL-2.0-only"));
    assert!(!acceptable(""));
}

#[test]
fn every_dependency_has_an_allowed_licence() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .args([
            "tree",
            "--offline",
            "--workspace",
            "-e",
            "normal,build",
            "--prefix",
            "none",
            "--format",
            "{p}|{l}",
        ])
        .output()
        .expect("run cargo tree");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Repeated subtrees end in " (*)".
    let packages: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim_end_matches(" (*)").to_string())
        .filter(|l| !l.is_empty())
        .collect();
    assert!(packages.len() > 100, "cargo tree listed only {} packages", packages.len());
    let refused: Vec<&String> = packages
        .iter()
        .filter(|line| {
            let licence = line.split_once('|').map(|(_, l)| l.trim()).unwrap_or_default();
            !acceptable(licence)
        })
        .collect();
    assert!(
        refused.is_empty(),
        "dependencies without an allowed licence (package|licence): {refused:#?}"
    );
    println!("{} packages, all with allowed licences", packages.len());
}
