//! Paths inside the guest: symlinks resolved within the guest's root, with a bound on links.

use crate::disk::guestfs::{GuestFs, NodeKind};

/// Linux's own limit on symlinks followed while resolving one path.
pub const MAX_SYMLINKS: usize = 40;
const MAX_LINK_LEN: usize = 4096;

/// Resolve `path` inside the guest: absolute targets start again at the guest's root, `..`
/// never climbs above it, and more than [`MAX_SYMLINKS`] links is a loop.
pub fn resolve(fs: &mut dyn GuestFs, path: &str) -> Result<String, String> {
    let mut pending: Vec<String> = components(path).rev().collect();
    let mut done: Vec<String> = Vec::new();
    let mut follows = 0;
    while let Some(c) = pending.pop() {
        match c.as_str() {
            "." => continue,
            ".." => {
                done.pop();
                continue;
            }
            _ => {}
        }
        let here = format!("/{}", join(&done, &c));
        if fs.kind(&here) != Some(NodeKind::Symlink) {
            done.push(c);
            continue;
        }
        follows += 1;
        if follows > MAX_SYMLINKS {
            return Err(format!(
                "{path}: more than {MAX_SYMLINKS} symlinks (a loop?)"
            ));
        }
        let target = fs
            .read_link(&here)
            .filter(|t| !t.is_empty() && t.len() <= MAX_LINK_LEN)
            .ok_or_else(|| format!("{here}: unreadable symlink"))?;
        if target.starts_with('/') {
            done.clear();
        }
        pending.extend(components(&target).rev());
    }
    Ok(format!("/{}", done.join("/")))
}

fn components(p: &str) -> impl DoubleEndedIterator<Item = String> + '_ {
    p.split('/').filter(|c| !c.is_empty()).map(str::to_string)
}

fn join(done: &[String], last: &str) -> String {
    let mut s = done.join("/");
    if !s.is_empty() {
        s.push('/');
    }
    s.push_str(last);
    s
}

/// Resolve then read; a resolution failure (a loop) goes to `warnings`.
pub(super) fn read_resolved(
    fs: &mut dyn GuestFs,
    path: &str,
    max: usize,
    warnings: &mut Vec<String>,
) -> Option<(String, Vec<u8>)> {
    match resolve(fs, path) {
        Ok(real) if fs.kind(&real) == Some(NodeKind::File) => {
            fs.read_head(&real, max).map(|b| (real, b))
        }
        Ok(_) => None,
        Err(e) => {
            warnings.push(format!("in the guest: {e}"));
            None
        }
    }
}

pub(super) fn kind_resolved(fs: &mut dyn GuestFs, path: &str) -> Option<NodeKind> {
    let real = resolve(fs, path).ok()?;
    fs.kind(&real)
}
