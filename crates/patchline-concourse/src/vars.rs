//! Pipeline variables: the `((var))` placeholders of a Concourse config and
//! the one job of replacing them with values from a vars file.
//!
//! A placeholder that is the whole value (`uri: ((stemcell_uri))`) takes the
//! variable's value with its YAML type, so a var can hold a mapping or a
//! list. A placeholder inside a longer string (`url: https://((host))/x`)
//! must name a scalar. `((var.field.sub))` walks into a mapping value;
//! segments may be double-quoted when they contain dots. Placeholders that
//! name a var source (`((vault:path))` or the local `((.:name))`) are left
//! for Concourse to resolve at run time and are never reported as unset.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use regex::Regex;
use serde_yaml_ng::{Mapping, Value};

/// Return the pattern of one `((...))` placeholder.
fn placeholder() -> &'static Regex {
    static PATTERN: OnceLock<Regex> = OnceLock::new();
    PATTERN.get_or_init(|| Regex::new(r"\(\(([^()]+)\)\)").expect("placeholder pattern is valid"))
}

/// Errors of interpolation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VarsError {
    /// Placeholders whose var is not set; every name, sorted, once.
    #[error("undefined vars: {}", .0.join(", "))]
    Unset(Vec<String>),
    /// A var holding a mapping or list was placed inside a longer string.
    #[error("var `{name}` holds a {kind}, which cannot be embedded in the string {text:?}")]
    NotScalar {
        /// The placeholder's var path.
        name: String,
        /// `mapping` or `list`.
        kind: &'static str,
        /// The string the placeholder sits in.
        text: String,
    },
    /// The vars file is not a YAML mapping of names to values.
    #[error("vars file: {0}")]
    Invalid(String),
}

/// A set of named values for `((var))` placeholders, as `fly -l vars.yml`
/// loads them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Vars {
    values: BTreeMap<String, Value>,
}

impl Vars {
    /// Create an empty set of vars.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parse a vars file: a YAML mapping from names to values. Anchors,
    /// aliases and `<<` merge keys are resolved.
    pub fn from_yaml(text: &str) -> Result<Self, VarsError> {
        let mut value: Value =
            serde_yaml_ng::from_str(text).map_err(|e| VarsError::Invalid(e.to_string()))?;
        value
            .apply_merge()
            .map_err(|e| VarsError::Invalid(e.to_string()))?;
        let mapping = match value {
            Value::Mapping(mapping) => mapping,
            Value::Null => Mapping::new(),
            _ => {
                return Err(VarsError::Invalid(
                    "expected a mapping of names to values".into(),
                ))
            }
        };
        let mut vars = Vars::new();
        for (key, value) in mapping {
            let Value::String(name) = key else {
                return Err(VarsError::Invalid(format!(
                    "var name {key:?} is not a string"
                )));
            };
            vars.set(name, value);
        }
        Ok(vars)
    }

    /// Set one var, replacing any earlier value.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<Value>) {
        self.values.insert(name.into(), value.into());
    }

    /// Return the value of a var by its top-level name.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name)
    }

    /// Iterate over the top-level names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }

    /// Return a copy of `self` with the vars of `other` layered on top, the
    /// way a task step's `vars:` shadow the pipeline's.
    pub fn overlay(&self, other: &Vars) -> Vars {
        let mut merged = self.clone();
        for (name, value) in &other.values {
            merged.set(name.clone(), value.clone());
        }
        merged
    }

    /// Look up a placeholder path such as `target.root`.
    ///
    /// Return `None` when the path names a var source (`source:path`), which
    /// only Concourse can resolve, and `Some(None)` when the var is unset.
    fn resolve(&self, path: &str) -> Option<Option<&Value>> {
        let segments = split_path(path)?;
        let (first, rest) = segments.split_first()?;
        let mut value = match self.values.get(first) {
            Some(value) => value,
            None => return Some(None),
        };
        for segment in rest {
            match value {
                Value::Mapping(mapping) => match mapping.get(segment.as_str()) {
                    Some(inner) => value = inner,
                    None => return Some(None),
                },
                _ => return Some(None),
            }
        }
        Some(Some(value))
    }

    /// Replace every placeholder in `value`, keys included, in place.
    ///
    /// Placeholders left unresolved stay as they are; all their names are
    /// returned together in [`VarsError::Unset`] so one run reports every
    /// missing var.
    pub fn interpolate(&self, value: &mut Value) -> Result<(), VarsError> {
        let mut unset = BTreeSet::new();
        self.walk(value, &mut unset)?;
        if unset.is_empty() {
            Ok(())
        } else {
            Err(VarsError::Unset(unset.into_iter().collect()))
        }
    }

    fn walk(&self, value: &mut Value, unset: &mut BTreeSet<String>) -> Result<(), VarsError> {
        match value {
            Value::String(text) => {
                if let Some(replacement) = self.replace_in(text, unset)? {
                    *value = replacement;
                }
            }
            Value::Sequence(items) => {
                for item in items {
                    self.walk(item, unset)?;
                }
            }
            Value::Mapping(mapping) => {
                let mut rebuilt = Mapping::with_capacity(mapping.len());
                for (mut key, mut inner) in std::mem::take(mapping) {
                    self.walk(&mut key, unset)?;
                    self.walk(&mut inner, unset)?;
                    rebuilt.insert(key, inner);
                }
                *mapping = rebuilt;
            }
            Value::Tagged(tagged) => self.walk(&mut tagged.value, unset)?,
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
        Ok(())
    }

    /// Return the new value of a string holding placeholders, or `None` when
    /// nothing in it changes.
    fn replace_in(
        &self,
        text: &str,
        unset: &mut BTreeSet<String>,
    ) -> Result<Option<Value>, VarsError> {
        let pattern = placeholder();
        if !pattern.is_match(text) {
            return Ok(None);
        }

        // A lone placeholder keeps the var's own YAML type.
        if let Some(captures) = pattern.captures(text) {
            let whole = captures.get(0).expect("group 0 always matches");
            if whole.start() == 0 && whole.end() == text.len() {
                let path = captures[1].trim();
                return Ok(match self.resolve(path) {
                    Some(Some(found)) => Some(found.clone()),
                    Some(None) => {
                        unset.insert(path.to_string());
                        None
                    }
                    None => None,
                });
            }
        }

        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        for captures in pattern.captures_iter(text) {
            let whole = captures.get(0).expect("group 0 always matches");
            out.push_str(&text[last..whole.start()]);
            last = whole.end();
            let path = captures[1].trim();
            match self.resolve(path) {
                Some(Some(found)) => out.push_str(&scalar_text(path, found, text)?),
                Some(None) => {
                    unset.insert(path.to_string());
                    out.push_str(whole.as_str());
                }
                None => out.push_str(whole.as_str()),
            }
        }
        out.push_str(&text[last..]);
        Ok((out != text).then_some(Value::String(out)))
    }
}

/// Render a scalar var for embedding in a string.
fn scalar_text(path: &str, value: &Value, text: &str) -> Result<String, VarsError> {
    let not_scalar = |kind| VarsError::NotScalar {
        name: path.to_string(),
        kind,
        text: text.to_string(),
    };
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Null => Ok(String::new()),
        Value::Mapping(_) => Err(not_scalar("mapping")),
        Value::Sequence(_) => Err(not_scalar("list")),
        Value::Tagged(tagged) => scalar_text(path, &tagged.value, text),
    }
}

/// Split `a."b.c".d` into its segments; `None` for var-source references.
fn split_path(path: &str) -> Option<Vec<String>> {
    let mut segments = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for ch in path.chars() {
        match ch {
            '"' => quoted = !quoted,
            ':' if !quoted => return None,
            '.' if !quoted => segments.push(std::mem::take(&mut current)),
            _ => current.push(ch),
        }
    }
    segments.push(current);
    Some(segments)
}

/// Render a task param value as the environment variable Concourse gives
/// the task: strings as they are, null as empty, anything else as JSON.
pub fn param_env_value(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Value {
        serde_yaml_ng::from_str(text).unwrap()
    }

    fn vars() -> Vars {
        Vars::from_yaml(
            "host: example.test\nport: 8443\ntarget: {kind: local, root: /srv/env}\n\
             days: [Friday]\n\"dotted.name\": {inner: true}\n",
        )
        .unwrap()
    }

    #[test]
    fn whole_value_placeholder_keeps_the_var_type() {
        let mut value = yaml("a: ((target))\nb: ((port))\nc: ((days))\n");
        vars().interpolate(&mut value).unwrap();
        assert_eq!(
            value,
            yaml("a: {kind: local, root: /srv/env}\nb: 8443\nc: [Friday]\n")
        );
    }

    #[test]
    fn embedded_placeholders_and_field_paths_become_text() {
        let mut value = yaml("url: https://((host)):((port))/((target.root))\n");
        vars().interpolate(&mut value).unwrap();
        assert_eq!(value, yaml("url: https://example.test:8443//srv/env\n"));
    }

    #[test]
    fn quoted_segments_may_hold_dots() {
        let mut value = yaml("a: ((\"dotted.name\".inner))\n");
        vars().interpolate(&mut value).unwrap();
        assert_eq!(value, yaml("a: true\n"));
    }

    #[test]
    fn every_unset_var_is_reported_once_and_sorted() {
        let mut value = yaml("a: ((zeta))\nb: x-((alpha))-((zeta))\nc: ((target.missing))\n");
        let err = vars().interpolate(&mut value).unwrap_err();
        assert_eq!(
            err.to_string(),
            "undefined vars: alpha, target.missing, zeta"
        );
        assert_eq!(value["b"], Value::String("x-((alpha))-((zeta))".into()));
    }

    #[test]
    fn var_source_references_are_left_for_concourse() {
        let mut value = yaml("a: ((vault:secret))\nb: ((.:local))\n");
        vars().interpolate(&mut value).unwrap();
        assert_eq!(value, yaml("a: ((vault:secret))\nb: ((.:local))\n"));
    }

    #[test]
    fn a_mapping_cannot_be_embedded_in_a_string() {
        let mut value = yaml("a: root=((target))\n");
        let err = vars().interpolate(&mut value).unwrap_err();
        assert_eq!(
            err.to_string(),
            "var `target` holds a mapping, which cannot be embedded in the string \"root=((target))\""
        );
    }

    #[test]
    fn params_become_environment_strings_like_concourse_sets_them() {
        assert_eq!(param_env_value(&yaml("sandbox")), "sandbox");
        assert_eq!(param_env_value(&yaml("true")), "true");
        assert_eq!(param_env_value(&yaml("~")), "");
        assert_eq!(
            param_env_value(&yaml("{kind: local, keep: 3}")),
            r#"{"kind":"local","keep":3}"#
        );
    }

    #[test]
    fn vars_files_resolve_anchors_and_merge_keys() {
        let vars = Vars::from_yaml(
            "day: &day Friday\nbase: &base {kind: local}\nfull:\n  <<: *base\n  days: [*day]\n",
        )
        .unwrap();
        assert_eq!(
            vars.get("full"),
            Some(&yaml("{kind: local, days: [Friday]}"))
        );
    }

    #[test]
    fn a_vars_file_must_be_a_mapping() {
        let err = Vars::from_yaml("- a\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "vars file: expected a mapping of names to values"
        );
    }
}
