//! Corpora of TargetGroupBinding manifests under `tests/corpus/<dir>/`: each file holds one or more
//! YAML documents (the last is the case; the others are applied first) and `# key: value` header
//! lines that say what must happen. `expect` is the outcome on every API server; `expect-cel`, when
//! present, replaces it on API servers that enforce the CRD's CEL rules.

use std::collections::BTreeMap;
use std::path::PathBuf;

pub struct Case {
    pub file: String,
    pub text: String,
    headers: BTreeMap<String, String>,
}

impl Case {
    pub fn header(&self, key: &str) -> Option<&str> {
        self.headers.get(key).map(String::as_str)
    }

    /// The expected outcome on this API server.
    pub fn expect(&self, enforces_cel: bool) -> &str {
        let cel = if enforces_cel { self.header("expect-cel") } else { None };
        cel.or(self.header("expect"))
            .unwrap_or_else(|| panic!("{} has no `# expect:` line", self.file))
    }

    /// The documents, with every placeholder replaced.
    pub fn objects(&self, replacements: &[(&str, String)]) -> Vec<serde_json::Value> {
        let mut text = self.text.clone();
        for (from, to) in replacements {
            text = text.replace(from, to);
        }
        serde_yaml::Deserializer::from_str(&text)
            .map(|doc| {
                let value = <serde_json::Value as serde::Deserialize>::deserialize(doc).unwrap_or_else(|e| panic!("{}: {e}", self.file));
                value
            })
            .filter(|v| !v.is_null())
            .collect()
    }
}

/// Every file of `tests/corpus/<dir>`, in name order.
pub fn read(dir: &str) -> Vec<Case> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus").join(dir);
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let headers = text
                .lines()
                .filter_map(|l| l.strip_prefix("# "))
                .filter_map(|l| l.split_once(": "))
                .filter(|(k, _)| !k.contains(' '))
                .map(|(k, v)| (k.to_string(), v.trim().to_string()))
                .collect();
            Case {
                file: path.file_name().unwrap().to_string_lossy().into_owned(),
                text,
                headers,
            }
        })
        .collect()
}

/// Whether the API server enforces `x-kubernetes-validations` (on by default since 1.25).
pub async fn enforces_cel(client: &kube::Client) -> bool {
    let version = client.apiserver_version().await.unwrap();
    let minor: u32 = version.minor.trim_end_matches('+').parse().unwrap_or(0);
    version.major == "1" && minor >= 25
}
