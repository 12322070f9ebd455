// Shared by the binaries' build scripts (`include!`d): the git commit they are built from, for
// `--version`, as `TGBIND_GIT_COMMIT` (the environment variable wins, for builds outside a clone).
fn emit_git_commit() {
    println!("cargo:rerun-if-env-changed=TGBIND_GIT_COMMIT");
    // Given, it is all there is to watch: HEAD moving must not rerun this script, which would
    // rebuild every target of the package (scripts/test.sh fixes it for the test build).
    if let Ok(commit) = std::env::var("TGBIND_GIT_COMMIT") {
        println!("cargo:rustc-env=TGBIND_GIT_COMMIT={commit}");
        return;
    }
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    // Rebuild when HEAD moves (a new commit, a checkout).
    let head = git(&["rev-parse", "--git-path", "HEAD"]);
    let branch = git(&["rev-parse", "--symbolic-full-name", "HEAD"]).and_then(|r| git(&["rev-parse", "--git-path", &r]));
    for path in [head, branch].into_iter().flatten() {
        println!("cargo:rerun-if-changed={path}");
    }
    let commit = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=TGBIND_GIT_COMMIT={commit}");
}
