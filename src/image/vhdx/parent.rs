//! Finding a differencing VHDX's parent through its parent locator: `relative_path` first,
//! then `volume_path` and `absolute_win32_path` (as paths of this system where they can be),
//! then the parent's file name beside the child; each candidate's data write GUID must be the
//! locator's `parent_linkage` (or `parent_linkage2`).

use std::path::{Path, PathBuf};

use super::file::VhdxFile;
use super::guid::Guid;
use super::metadata::VHDX_PARENT_LOCATOR_TYPE;
use crate::error::{Error, Result};
use crate::image::chain::short_reason;
use crate::image::source::SourceFile;

/// Where a parent was looked for: (path, which locator key it came from, what happened).
pub type Tried = Vec<(PathBuf, String, String)>;

/// Candidate paths for the parent, in the order they are tried.
pub fn candidates(child: &VhdxFile) -> Vec<(PathBuf, String)> {
    let Some(loc) = &child.meta.parent else {
        return Vec::new();
    };
    let dir = child
        .src()
        .path()
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let mut out: Vec<(PathBuf, String)> = Vec::new();
    let mut push = |p: PathBuf, why: &str| {
        if !out.iter().any(|(q, _)| *q == p) {
            out.push((p, why.to_string()));
        }
    };
    if let Some(rel) = loc.get("relative_path") {
        let rel = windows_to_local(rel);
        let rel = rel.strip_prefix("./").unwrap_or(&rel).to_string();
        push(dir.join(rel), "relative_path");
    }
    for key in ["volume_path", "absolute_win32_path"] {
        if let Some(v) = loc.get(key) {
            let local = windows_to_local(v);
            // A drive letter or a volume GUID path means nothing here; a path of this system does.
            if local.starts_with('/') && !local.starts_with("//") {
                push(PathBuf::from(local), key);
            }
        }
    }
    for key in ["relative_path", "absolute_win32_path", "volume_path"] {
        if let Some(name) = loc
            .get(key)
            .and_then(|v| windows_to_local(v).rsplit('/').next().map(str::to_string))
            .filter(|n| !n.is_empty() && n != "." && n != "..")
        {
            push(
                dir.join(name),
                &format!("file name of {key}, beside the child"),
            );
        }
    }
    out
}

fn windows_to_local(p: &str) -> String {
    p.replace('\\', "/")
}

/// Open the parent of `child`, checking its identity.
pub fn find_parent(child: &VhdxFile) -> Result<(VhdxFile, String, Tried)> {
    let path = child.src().path();
    let Some(loc) = &child.meta.parent else {
        return Err(Error::Chain {
            path: path.to_path_buf(),
            what: "differencing VHDX without a parent locator".into(),
        });
    };
    if loc.locator_type != VHDX_PARENT_LOCATOR_TYPE {
        return Err(Error::Unsupported {
            path: path.to_path_buf(),
            what: format!(
                "parent locator type {} at offset {} is not the VHDX one ({VHDX_PARENT_LOCATOR_TYPE})",
                loc.locator_type, loc.offset
            ),
        });
    }
    let linkage: Vec<Guid> = ["parent_linkage", "parent_linkage2"]
        .iter()
        .filter_map(|k| loc.get(k).and_then(Guid::parse))
        .collect();
    if linkage.is_empty() {
        return Err(Error::malformed(
            path,
            loc.offset,
            "parent locator parent_linkage",
            format!("{:?}", loc.get("parent_linkage")),
            "the parent's data write GUID as {xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}",
        ));
    }
    let mut tried: Tried = Vec::new();
    for (p, via) in candidates(child) {
        let outcome = SourceFile::open(&p).and_then(VhdxFile::open);
        match outcome {
            Ok(parent) => {
                let g = parent.headers.header.data_write_guid;
                if linkage.contains(&g) {
                    return Ok((parent, via, tried));
                }
                tried.push((
                    p,
                    via,
                    format!(
                        "its data write GUID is {g}, the child's parent_linkage {}",
                        linkage[0]
                    ),
                ));
            }
            Err(e) => tried.push((p, via, short_reason(&e))),
        }
    }
    let list: Vec<String> = tried
        .iter()
        .map(|(p, via, why)| format!("{} (from {via}): {why}", p.display()))
        .collect();
    Err(Error::Chain {
        path: path.to_path_buf(),
        what: format!(
            "parent VHDX not found (locator {:?}); tried: {}",
            loc.entries,
            if list.is_empty() {
                "nothing usable on this system".to_string()
            } else {
                list.join("; ")
            }
        ),
    })
}
