//! Logs kept for the suite-wide secret scan: when `TGBIND_TEST_LOGS` names a directory (as
//! `scripts/test.sh` sets it), the processes tests start leave a copy of their logs there.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

static SEQUENCE: AtomicU32 = AtomicU32::new(0);

/// A fresh file name in the kept-logs directory, or `None` when logs are not kept.
pub fn kept_log_path(label: &str) -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os("TGBIND_TEST_LOGS")?);
    std::fs::create_dir_all(&dir).ok()?;
    let n = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    Some(dir.join(format!("{label}-{}-{n}.log", std::process::id())))
}

/// Where a process's stderr goes: a fresh kept log, or nowhere when logs are not kept.
pub fn kept_or_null(label: &str) -> std::process::Stdio {
    kept_log_path(label)
        .and_then(|p| std::fs::File::create(p).ok())
        .map_or_else(std::process::Stdio::null, std::process::Stdio::from)
}

/// Copies `log` into the kept-logs directory (nothing when logs are not kept or `log` is missing).
pub fn keep_log(log: &Path, label: &str) {
    if let Some(to) = kept_log_path(label) {
        let _ = std::fs::copy(log, to);
    }
}
