//! The credentials the whole test suite uses, distinctive so that `scripts/scan-logs.py` can show
//! that no log the suite writes contains them. Tests take them from here; the walkthrough scripts
//! use the same values (`scripts/lib/demo.sh`, `scripts/local-apiserver.sh`), and the scanner checks
//! that they agree.

/// AWS credentials for moto (which checks no signature, so any well-formed pair works).
pub const AWS_ACCESS_KEY_ID: &str = "AKIATGBINDSUITE00001";
pub const AWS_SECRET_ACCESS_KEY: &str = "tgbind+suite/Secret-4kq9Zr7wXb";
/// The local kube-apiserver's admin bearer token (`system:masters`).
pub const ADMIN_TOKEN: &str = "tgbind-local-admin-7Hq2vR";
/// A ServiceAccount-like identity's bearer token (the controller under the chart's RBAC).
pub const SERVICE_ACCOUNT_TOKEN: &str = "tgbind-sa-token-Wn4xK8";
