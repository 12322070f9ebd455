//! Reusable attribute validators. Each reports at the attribute's path, so Terraform points at the
//! offending line.

use std::sync::Arc;

use super::schema::Validator;

pub fn one_of(allowed: &'static [&'static str]) -> Validator {
    Arc::new(move |v, path, diags| {
        if let Some(s) = v.as_str() {
            if !allowed.contains(&s) {
                diags.error_at(path, "Invalid value", format!("{s:?} is not one of: {}.", allowed.join(", ")));
            }
        }
    })
}

pub fn int_between(min: i64, max: i64) -> Validator {
    Arc::new(move |v, path, diags| match v.as_i64() {
        Some(n) if (min..=max).contains(&n) => {}
        Some(n) => diags.error_at(path, "Value out of range", format!("{n} is not between {min} and {max}.")),
        None => diags.error_at(path, "Invalid number", format!("{v:?} is not a whole number.")),
    })
}

/// Zero, or a value in `min..=max` (for settings where 0 means "off").
pub fn zero_or_between(min: i64, max: i64) -> Validator {
    Arc::new(move |v, path, diags| match v.as_i64() {
        Some(0) => {}
        Some(n) if (min..=max).contains(&n) => {}
        Some(n) => diags.error_at(path, "Value out of range", format!("{n} must be 0 or between {min} and {max}.")),
        None => diags.error_at(path, "Invalid number", format!("{v:?} is not a whole number.")),
    })
}

pub fn string_length(min: usize, max: usize) -> Validator {
    Arc::new(move |v, path, diags| {
        if let Some(s) = v.as_str() {
            let n = s.chars().count();
            if n < min || n > max {
                diags.error_at(
                    path,
                    "Invalid length",
                    format!("{s:?} has {n} characters; it must have between {min} and {max}."),
                );
            }
        }
    })
}

/// The string matches a regular expression; `what` explains the rule to the user.
pub fn matches(pattern: &'static str, what: &'static str) -> Validator {
    let re = regex_lite::Regex::new(pattern).expect("validator pattern compiles");
    Arc::new(move |v, path, diags| {
        if let Some(s) = v.as_str() {
            if !re.is_match(s) {
                diags.error_at(path, "Invalid value", format!("{s:?}: {what}."));
            }
        }
    })
}
