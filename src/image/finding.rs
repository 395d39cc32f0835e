//! What a format's reader or checker finds wrong: a byte offset in a named structure, what was
//! found and what was expected. Shared by every format's `check`.

use std::path::Path;

use serde::Serialize;

use super::kind::Kind;
use crate::error::Error;

/// Serialised as `"warning"` / `"error"` (the `check --json` document, docs/json.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; the image reads correctly.
    Warning,
    /// The image breaks the format; tools may read it differently or not at all.
    Error,
}

/// One thing found wrong, at a byte offset in a named structure; serialised as an element of
/// `check --json`'s `findings` (without `fatal`, which only steers the checker).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// Offset in the file.
    pub offset: u64,
    pub field: String,
    pub found: String,
    pub expected: String,
    /// The reader cannot go on past this one.
    #[serde(skip)]
    pub fatal: bool,
    /// How it can be repaired, when it can.
    pub repair: Option<String>,
}

impl Finding {
    pub fn new(
        severity: Severity,
        offset: u64,
        field: impl Into<String>,
        found: impl Into<String>,
        expected: impl Into<String>,
    ) -> Self {
        Finding {
            severity,
            offset,
            field: field.into(),
            found: found.into(),
            expected: expected.into(),
            fatal: false,
            repair: None,
        }
    }

    pub fn fatal(mut self) -> Self {
        self.fatal = true;
        self
    }

    pub fn repair(mut self, how: impl Into<String>) -> Self {
        self.repair = Some(how.into());
        self
    }

    pub fn message(&self) -> String {
        let mut s = format!(
            "{} at offset {} ({:#x}): found {}, expected {}",
            self.field, self.offset, self.offset, self.found, self.expected
        );
        if let Some(r) = &self.repair {
            s.push_str("; repairable: ");
            s.push_str(r);
        }
        s
    }

    /// This finding as the error that stops the reader of `path`.
    pub fn to_error(&self, path: &Path) -> Error {
        Error::malformed(path, self.offset, &self.field, &self.found, &self.expected)
    }
}

/// The first finding of `findings` a reader of `path` cannot go on past, as its error.
pub fn fatal_error(path: &Path, findings: &[Finding]) -> Option<Error> {
    findings.iter().find(|f| f.fatal).map(|f| f.to_error(path))
}

/// What `check` found in one file (and, for a chain, about its chain).
#[derive(Debug)]
pub struct CheckReport {
    pub kind: Kind,
    /// The format's own subtype ("dynamic" for a VHD), when it has one.
    pub disk_type: Option<&'static str>,
    pub findings: Vec<Finding>,
    /// Allocated blocks examined.
    pub blocks_checked: u64,
    /// Set when the format has no structure to check, saying so.
    pub note: Option<String>,
}

impl CheckReport {
    pub fn new(kind: Kind) -> Self {
        CheckReport {
            kind,
            disk_type: None,
            findings: Vec::new(),
            blocks_checked: 0,
            note: None,
        }
    }

    pub fn problems(&self) -> usize {
        self.count(Severity::Error)
    }

    pub fn warnings(&self) -> usize {
        self.count(Severity::Warning)
    }

    fn count(&self, s: Severity) -> usize {
        self.findings.iter().filter(|f| f.severity == s).count()
    }
}
