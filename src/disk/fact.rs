//! The one fact type: a value with what said so, or no value with why not. The disk report
//! holds facts of what was seen; the import plan holds the same type for what it read in them.

use serde::{Serialize, Serializer};

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
    /// The same fact with its value turned into another type (the evidence or reason kept).
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Fact<U> {
        Fact {
            value: self.value.map(f),
            because: self.because,
        }
    }
}

/// `{"value", "evidence", "reason"}`: evidence for a known value, a reason for an unknown.
impl<T: Serialize> Serialize for Fact<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Shown<'a, T> {
            value: Option<&'a T>,
            evidence: Option<&'a str>,
            reason: Option<&'a str>,
        }
        let because = Some(self.because.as_str());
        let (evidence, reason) = match self.value {
            Some(_) => (because, None),
            None => (None, because),
        };
        Shown {
            value: self.value.as_ref(),
            evidence,
            reason,
        }
        .serialize(s)
    }
}
