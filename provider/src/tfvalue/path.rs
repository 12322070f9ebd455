use std::fmt;

/// One step into a value: an object attribute, a list/set element index, or a map key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Step {
    Attr(String),
    Index(i64),
    Key(String),
}

/// A path to a value inside a resource's configuration or state, as Terraform shows it in
/// diagnostics (`health_check[0].interval`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttributePath(pub Vec<Step>);

impl AttributePath {
    pub fn root() -> Self {
        Self(Vec::new())
    }
    pub fn attr(name: &str) -> Self {
        Self(vec![Step::Attr(name.to_string())])
    }
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }
    pub fn child(&self, name: &str) -> Self {
        let mut steps = self.0.clone();
        steps.push(Step::Attr(name.to_string()));
        Self(steps)
    }
    pub fn index(&self, i: usize) -> Self {
        let mut steps = self.0.clone();
        steps.push(Step::Index(i as i64));
        Self(steps)
    }
    pub fn key(&self, k: &str) -> Self {
        let mut steps = self.0.clone();
        steps.push(Step::Key(k.to_string()));
        Self(steps)
    }
}

impl fmt::Display for AttributePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(root)");
        }
        for (i, step) in self.0.iter().enumerate() {
            match step {
                Step::Attr(name) if i == 0 => write!(f, "{name}")?,
                Step::Attr(name) => write!(f, ".{name}")?,
                Step::Index(n) => write!(f, "[{n}]")?,
                Step::Key(k) => write!(f, "[{k:?}]")?,
            }
        }
        Ok(())
    }
}
