use crate::tfvalue::AttributePath;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// A message for the user, optionally pointing at the attribute it is about.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub summary: String,
    pub detail: String,
    pub path: Option<AttributePath>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn error(&mut self, summary: impl Into<String>, detail: impl Into<String>) {
        self.push(Severity::Error, summary, detail, None);
    }
    pub fn error_at(&mut self, path: &AttributePath, summary: impl Into<String>, detail: impl Into<String>) {
        self.push(Severity::Error, summary, detail, Some(path.clone()));
    }
    pub fn warning(&mut self, summary: impl Into<String>, detail: impl Into<String>) {
        self.push(Severity::Warning, summary, detail, None);
    }
    pub fn warning_at(&mut self, path: &AttributePath, summary: impl Into<String>, detail: impl Into<String>) {
        self.push(Severity::Warning, summary, detail, Some(path.clone()));
    }
    fn push(&mut self, severity: Severity, summary: impl Into<String>, detail: impl Into<String>, path: Option<AttributePath>) {
        self.0.push(Diagnostic {
            severity,
            summary: summary.into(),
            detail: detail.into(),
            path,
        });
    }
    /// Turns every error into a warning whose detail ends with `why`.
    pub fn downgrade_errors(&mut self, why: &str) {
        for d in self.0.iter_mut().filter(|d| d.severity == Severity::Error) {
            d.severity = Severity::Warning;
            d.detail = format!("{} {why}", d.detail);
        }
    }
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|d| d.severity == Severity::Error)
    }
    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Where each error points (`health_check[0].timeout`; empty for errors about the whole
    /// object), for tests of validation rules.
    pub fn error_paths(&self) -> Vec<String> {
        self.paths(Severity::Error)
    }
    /// Where each warning points, likewise.
    pub fn warning_paths(&self) -> Vec<String> {
        self.paths(Severity::Warning)
    }
    fn paths(&self, severity: Severity) -> Vec<String> {
        self.0
            .iter()
            .filter(|d| d.severity == severity)
            .map(|d| d.path.as_ref().map(|p| p.to_string()).unwrap_or_default())
            .collect()
    }
    /// The errors a rule reports for `config`: their paths, in order.
    pub fn paths_of(check: fn(&crate::tfvalue::Value, &mut Diagnostics), config: &crate::tfvalue::Value) -> Vec<String> {
        let mut diags = Diagnostics::new();
        check(config, &mut diags);
        diags.error_paths()
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Self(vec![d])
    }
}
