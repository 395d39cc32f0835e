//! A readiness finding and the report they make (issue 17). The codes are a stable
//! interface: docs/json.md lists them.

use serde::{Serialize, Serializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// One reason the image may not boot or be reachable on ECS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    /// Where it came from: the file and line, the id not found, the kernel version, the key.
    pub evidence: String,
    /// What to change, in one sentence.
    pub fix: String,
}

impl Finding {
    pub fn new(
        code: &'static str,
        severity: Severity,
        message: impl Into<String>,
        evidence: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Finding {
            code,
            severity,
            message: message.into(),
            evidence: evidence.into(),
            fix: fix.into(),
        }
    }
}

/// The kernel the guest boots by default, and why that one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KernelChoice {
    pub version: String,
    pub evidence: String,
}

/// The readiness section of `inspect`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Readiness {
    pub findings: Vec<Finding>,
    /// The default kernel (Linux), when one was found.
    pub kernel: Option<KernelChoice>,
    /// Whether the default kernel has an NVMe driver at boot (Linux with a kernel only).
    pub nvme: Option<bool>,
}

impl Readiness {
    /// `will-not-boot` with any error, else `risky` with any warning, else `ready`.
    pub fn verdict(&self) -> &'static str {
        let has = |s| self.findings.iter().any(|f| f.severity == s);
        if has(Severity::Error) {
            "will-not-boot"
        } else if has(Severity::Warning) {
            "risky"
        } else {
            "ready"
        }
    }

    /// The codes of the error findings (what stops `import`).
    pub fn error_codes(&self) -> Vec<&'static str> {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|f| f.code)
            .collect()
    }

    /// The finding with `code`, if any.
    pub fn get(&self, code: &str) -> Option<&Finding> {
        self.findings.iter().find(|f| f.code == code)
    }

    /// The text section: the verdict, the kernel, one block per finding.
    pub fn render(&self) -> String {
        let esc = crate::text::escape;
        let mut s = format!("readiness:            {}\n", self.verdict());
        if let Some(k) = &self.kernel {
            s.push_str(&format!(
                "    kernel: {} ({})\n",
                esc(&k.version),
                esc(&k.evidence)
            ));
        }
        for f in &self.findings {
            s.push_str(&format!(
                "    {:<7} {}: {}\n        evidence: {}\n        fix: {}\n",
                f.severity.as_str(),
                f.code,
                esc(&f.message),
                esc(&f.evidence),
                esc(&f.fix)
            ));
        }
        s
    }
}

/// `{"verdict", "findings": [{"code", "severity", "message", "evidence", "fix"}], "kernel":
/// {"version", "evidence"} (when found), "nvme_driver": bool (when known)}` (docs/json.md).
impl Serialize for Readiness {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Shown<'a> {
            verdict: &'static str,
            findings: &'a [Finding],
            #[serde(skip_serializing_if = "Option::is_none")]
            kernel: Option<&'a KernelChoice>,
            #[serde(skip_serializing_if = "Option::is_none")]
            nvme_driver: Option<bool>,
        }
        Shown {
            verdict: self.verdict(),
            findings: &self.findings,
            kernel: self.kernel.as_ref(),
            nvme_driver: self.nvme,
        }
        .serialize(s)
    }
}
