//! What `import` does with the readiness report (issue 17): its findings are shown before the
//! plan, an error stops the import (exit 2) before anything is uploaded unless `--force`, the
//! warnings of `inspect` go into the plan's warnings, and `Features.NvmeSupport` follows the
//! NVMe driver when the user did not choose.

use crate::disk::DiskReport;
use crate::disk::readiness::finding::{Readiness, Severity};
use crate::error::{Error, Result};

/// One line per finding: `error no-virtio-blk: message (evidence) fix: ...`.
pub fn lines(r: &Readiness) -> Vec<String> {
    r.findings
        .iter()
        .map(|f| {
            format!(
                "readiness {} {}: {} ({}). Fix: {}",
                f.severity.as_str(),
                f.code,
                f.message,
                f.evidence,
                f.fix
            )
        })
        .collect()
}

/// `Err` (a usage error, exit 2) naming the error codes when any finding is an error and
/// `force` is not set.
pub fn gate(r: &Readiness, force: bool) -> Result<()> {
    let codes = r.error_codes();
    if codes.is_empty() || force {
        return Ok(());
    }
    Err(Error::Usage(format!(
        "the image will not boot on ECS ({}); nothing was uploaded. Fix the guest (see the \
         findings above, or `imgtool inspect`), or pass --force to import it anyway",
        codes.join(", ")
    )))
}

/// The plan's extra warnings: everything `inspect` warned about, and each readiness warning.
pub fn carried_warnings(d: &DiskReport) -> Vec<String> {
    let mut w: Vec<String> = d.warnings.iter().map(|w| format!("inspect: {w}")).collect();
    w.extend(
        d.readiness
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Warning)
            .map(|f| format!("readiness {}: {}", f.code, f.message)),
    );
    w
}

/// `Features.NvmeSupport` from the default kernel's NVMe driver, unless the user chose one
/// (`--nvme`) or no Linux kernel was read.
pub fn nvme_param(r: &Readiness, user_chose: bool) -> Option<(String, String)> {
    if user_chose {
        return None;
    }
    let v = if r.nvme? { "supported" } else { "unsupported" };
    Some(("Features.NvmeSupport".to_string(), v.to_string()))
}
