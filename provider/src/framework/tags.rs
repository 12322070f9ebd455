//! Tags with provider default tags, as `aws_*` resources handle them: `tags` is what the user wrote,
//! `tags_all` what the object carries (default tags merged under the user's).

use std::collections::BTreeMap;

use crate::tfvalue::Value;

/// `tags_all` at plan time: known whenever `tags` is.
pub fn plan_tags_all(default_tags: &BTreeMap<String, String>, tags: &Value) -> Value {
    if !tags.is_wholly_known() {
        return Value::Unknown;
    }
    let mut all = default_tags.clone();
    all.extend(tags.as_string_map());
    Value::string_map(all)
}

/// `tags` after a read: the object's tags less those the provider's default tags set. Keys the user
/// manages (in the prior `tags`) stay even when a default tag has the same key; a default tag whose
/// value was just changed in the provider block is still a default tag, not the user's.
pub fn tags_from_remote(remote: &BTreeMap<String, String>, default_tags: &BTreeMap<String, String>, prior_tags: &Value) -> Value {
    let managed = prior_tags.as_string_map();
    let own: BTreeMap<&String, &String> = remote
        .iter()
        .filter(|(k, _)| managed.contains_key(*k) || !default_tags.contains_key(*k))
        .collect();
    if own.is_empty() && prior_tags.is_null() {
        Value::Null
    } else {
        Value::string_map(own.into_iter().map(|(k, v)| (k.clone(), v.clone())))
    }
}

/// The writes that take an object from `current` to `desired` tags: (to add or change, to remove).
pub fn tag_changes(current: &BTreeMap<String, String>, desired: &BTreeMap<String, String>) -> (BTreeMap<String, String>, Vec<String>) {
    let upserts = desired
        .iter()
        .filter(|(k, v)| current.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let removals = current.keys().filter(|k| !desired.contains_key(*k)).cloned().collect();
    (upserts, removals)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn tags_all_merges_user_tags_over_defaults() {
        let all = plan_tags_all(&m(&[("team", "web"), ("env", "dev")]), &Value::string_map(m(&[("env", "prod")])));
        assert_eq!(all, Value::string_map(m(&[("env", "prod"), ("team", "web")])));
        assert_eq!(plan_tags_all(&m(&[]), &Value::Unknown), Value::Unknown);
    }

    #[test]
    fn remote_tags_hide_defaults_but_keep_managed_keys() {
        let remote = m(&[("team", "web"), ("env", "prod"), ("extra", "x")]);
        let defaults = m(&[("team", "web"), ("env", "prod")]);
        let prior = Value::string_map(m(&[("env", "prod")]));
        assert_eq!(
            tags_from_remote(&remote, &defaults, &prior),
            Value::string_map(m(&[("env", "prod"), ("extra", "x")]))
        );
        assert_eq!(tags_from_remote(&m(&[("team", "web")]), &defaults, &Value::Null), Value::Null);
        // The default tag's value changed in the provider block: still not the user's tag.
        assert_eq!(tags_from_remote(&m(&[("team", "old")]), &defaults, &Value::Null), Value::Null);
    }

    #[test]
    fn tag_changes_are_minimal() {
        let (up, rm) = tag_changes(&m(&[("a", "1"), ("b", "2")]), &m(&[("a", "1"), ("b", "3"), ("c", "4")]));
        assert_eq!(up, m(&[("b", "3"), ("c", "4")]));
        assert!(rm.is_empty());
        let (up, rm) = tag_changes(&m(&[("a", "1")]), &m(&[]));
        assert!(up.is_empty());
        assert_eq!(rm, vec!["a".to_string()]);
    }
}
