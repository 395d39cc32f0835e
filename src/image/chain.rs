//! What every format with parents does alike: VHD and VHDX differencing disks, VMDK children
//! and qcow2 backing files are opened one after the other from the top, each checked against
//! the files already met (a chain that names itself, directly or not, is an error listing the
//! chain) and against a depth bound.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The deepest chain any format follows (Hyper-V itself warns well before this).
pub const MAX_CHAIN_DEPTH: usize = 32;

/// The files of one chain met so far, from the top, by canonical path. Errors name the top
/// file as it was given.
#[derive(Debug)]
pub struct ChainWalk {
    /// What the chain is called in errors: "differencing chain", "VMDK chain"...
    what: &'static str,
    top: Option<PathBuf>,
    seen: Vec<PathBuf>,
}

impl ChainWalk {
    pub fn new(what: &'static str) -> ChainWalk {
        ChainWalk {
            what,
            top: None,
            seen: Vec::new(),
        }
    }

    /// Take `path` as the next file of the chain (the first call: its top): refused when the
    /// chain already holds [`MAX_CHAIN_DEPTH`] files, or holds this one.
    pub fn enter(&mut self, path: &Path) -> Result<()> {
        let top = self.top.get_or_insert_with(|| path.to_path_buf());
        if self.seen.len() >= MAX_CHAIN_DEPTH {
            return Err(Error::Chain {
                path: top.clone(),
                what: format!(
                    "{} is deeper than {MAX_CHAIN_DEPTH} files (imgtool's limit); stopped before opening {}",
                    self.what,
                    path.display()
                ),
            });
        }
        let canon = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        if self.seen.contains(&canon) {
            let chain: Vec<String> = self.seen.iter().map(|p| p.display().to_string()).collect();
            return Err(Error::Chain {
                path: top.clone(),
                what: format!(
                    "{} loops back to a file already in it: {} -> {}",
                    self.what,
                    chain.join(" -> "),
                    canon.display()
                ),
            });
        }
        self.seen.push(canon);
        Ok(())
    }
}

/// A warning for each file whose parent is not its size: `(path, virtual size)` from the top.
pub fn size_warnings(layers: &[(&Path, u64)]) -> Vec<String> {
    layers
        .windows(2)
        .filter(|w| w[0].1 != w[1].1)
        .map(|w| {
            format!(
                "{} is {} bytes but its parent {} is {} bytes; the part past the parent's end reads as zeros",
                w[0].0.display(),
                w[0].1,
                w[1].0.display(),
                w[1].1
            )
        })
        .collect()
}

/// Why a would-be parent could not be opened, in a few words (the I/O error without the path
/// the list of tried paths already gives).
pub fn short_reason(e: &Error) -> String {
    match e {
        Error::Io { source, .. } => source.to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Paths that do not exist are compared as given (canonicalize fails on them).
    fn p(name: &str) -> PathBuf {
        PathBuf::from(format!("/nonexistent-imgtool-chain/{name}"))
    }

    #[test]
    fn a_chain_of_max_depth_is_followed_and_one_more_file_is_refused_naming_the_top() {
        let mut w = ChainWalk::new("VMDK chain");
        for i in 0..MAX_CHAIN_DEPTH {
            w.enter(&p(&format!("{i}.vmdk"))).unwrap();
        }
        let e = w.enter(&p("32.vmdk")).unwrap_err().to_string();
        assert_eq!(
            e,
            "/nonexistent-imgtool-chain/0.vmdk: VMDK chain is deeper than 32 files (imgtool's \
             limit); stopped before opening /nonexistent-imgtool-chain/32.vmdk"
        );
    }

    #[test]
    fn a_file_met_again_is_a_loop_listing_the_chain() {
        let mut w = ChainWalk::new("differencing chain");
        w.enter(&p("a.vhd")).unwrap();
        w.enter(&p("b.vhd")).unwrap();
        let e = w.enter(&p("a.vhd")).unwrap_err().to_string();
        assert_eq!(
            e,
            "/nonexistent-imgtool-chain/a.vhd: differencing chain loops back to a file already \
             in it: /nonexistent-imgtool-chain/a.vhd -> /nonexistent-imgtool-chain/b.vhd -> \
             /nonexistent-imgtool-chain/a.vhd"
        );
    }

    #[test]
    fn only_parents_of_another_size_are_warned_about() {
        let (a, b, c) = (p("a"), p("b"), p("c"));
        let w = size_warnings(&[(a.as_path(), 10), (b.as_path(), 10), (c.as_path(), 8)]);
        assert_eq!(
            w,
            vec![
                "/nonexistent-imgtool-chain/b is 10 bytes but its parent \
                 /nonexistent-imgtool-chain/c is 8 bytes; the part past the parent's end reads \
                 as zeros"
            ]
        );
    }
}
