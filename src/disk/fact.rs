//! The one fact type: a value with what said so, or no value with why not. The disk report
//! holds facts of what was seen; the import plan holds the same type for what it read in them.

use serde::Serialize;
use serde_json::{Value, json};

/// A value with what said so, or no value with why not. Never a guess.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fact<T = String> {
    pub value: Option<T>,
    /// The evidence when `value` is set; the reason it is unknown otherwise.
    pub because: String,
}

impl<T> Fact<T> {
    pub fn known(value: impl Into<T>, evidence: impl Into<String>) -> Self {
        Fact {
            value: Some(value.into()),
            because: evidence.into(),
        }
    }
    pub fn unknown(reason: impl Into<String>) -> Self {
        Fact {
            value: None,
            because: reason.into(),
        }
    }
}

impl<T: Serialize> Fact<T> {
    /// `{"value", "evidence", "reason"}`: evidence for a known value, a reason for an unknown.
    pub fn to_json(&self) -> Value {
        match &self.value {
            Some(v) => json!({"value": v, "evidence": self.because, "reason": null}),
            None => json!({"value": null, "evidence": null, "reason": self.because}),
        }
    }
}
