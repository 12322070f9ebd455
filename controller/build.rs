//! The git commit for `tgbind-controller --version`.
include!("../build-support/commit.rs");

fn main() {
    emit_git_commit();
}
