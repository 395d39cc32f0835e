//! Finding a differencing disk's parent from its locators.

use std::path::{Path, PathBuf};

use super::dynamic::{DynamicHeader, ParentLocator};
use crate::image::source::SourceFile;

/// Locator data longer than this is not a path; we do not read it.
pub const MAX_LOCATOR_BYTES: u32 = 64 * 1024;

/// One locator decoded to a path, or why it could not be.
#[derive(Debug, Clone)]
pub struct DecodedLocator {
    pub index: usize,
    pub code: String,
    pub data_offset: u64,
    pub data_length: u32,
    pub path: Result<String, String>,
}

/// Decode every non-empty locator of `header`, reading its data from `src`.
pub fn decode_locators(src: &SourceFile, header: &DynamicHeader) -> Vec<DecodedLocator> {
    header
        .locators
        .iter()
        .enumerate()
        .filter(|(_, l)| !l.is_empty())
        .map(|(i, l)| DecodedLocator {
            index: i,
            code: l.code_str(),
            data_offset: l.data_offset,
            data_length: l.data_length,
            path: decode(src, l),
        })
        .collect()
}

fn decode(src: &SourceFile, l: &ParentLocator) -> Result<String, String> {
    if l.data_length == 0 {
        return Err("empty locator data".into());
    }
    if l.data_length > MAX_LOCATOR_BYTES {
        return Err(format!(
            "locator data of {} bytes is longer than the {MAX_LOCATOR_BYTES} a path can take",
            l.data_length
        ));
    }
    let mut buf = vec![0u8; l.data_length as usize];
    src.read_exact_at(l.data_offset, &mut buf, "parent locator data")
        .map_err(|e| e.to_string())?;
    match &l.code {
        b"W2ru" | b"W2ku" => utf16le(&buf),
        b"MacX" => mac_url(&buf),
        // Deprecated codes hold the path in the system code page; ASCII is what we can trust.
        b"Wi2r" | b"Wi2k" => ascii(&buf),
        b"Mac " => Err("Mac OS alias records are not supported".into()),
        _ => Err(format!("unknown platform code {}", l.code_str())),
    }
}

fn utf16le(b: &[u8]) -> Result<String, String> {
    if b.len() % 2 != 0 {
        return Err(format!("UTF-16 data of odd length {}", b.len()));
    }
    let units: Vec<u16> = crate::bytes::le_u16s(b).take_while(|&u| u != 0).collect();
    String::from_utf16(&units).map_err(|_| "invalid UTF-16".into())
}

fn ascii(b: &[u8]) -> Result<String, String> {
    let b: Vec<u8> = b.iter().copied().take_while(|&c| c != 0).collect();
    if b.is_ascii() {
        String::from_utf8(b).map_err(|_| "invalid text".into())
    } else {
        Err("non-ASCII path in a deprecated code-page locator".into())
    }
}

/// `MacX`: a UTF-8 file URL (`file://localhost/Users/a/b.vhd` or `file:///...`).
fn mac_url(b: &[u8]) -> Result<String, String> {
    let s = std::str::from_utf8(b)
        .map_err(|_| "invalid UTF-8".to_string())?
        .trim_end_matches('\0');
    let rest = s
        .strip_prefix("file://localhost")
        .or_else(|| s.strip_prefix("file://"))
        .unwrap_or(s);
    percent_decode(rest)
}

fn percent_decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3).ok_or("truncated %-escape")?;
            let v = u8::from_str_radix(hex, 16).map_err(|_| format!("bad %-escape %{hex}"))?;
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "invalid UTF-8 after %-decoding".into())
}

/// The paths to try for a locator's path, in order, relative to the child's folder.
/// Windows paths (`.\parent.vhd`, `C:\images\parent.vhd`) are mapped to this host: the
/// separators become `/`, a relative path is joined to the child's folder, and for an absolute
/// Windows path the file name alone is tried in the child's folder as well.
pub fn candidates(child_dir: &Path, locator_path: &str) -> Vec<PathBuf> {
    let p = locator_path.replace('\\', "/");
    let mut out = Vec::new();
    let is_drive = p.len() >= 2 && p.as_bytes()[1] == b':' && p.as_bytes()[0].is_ascii_alphabetic();
    if is_drive || p.starts_with("//") {
        // A drive letter or UNC path means nothing here; the parent usually sits beside the child.
        if let Some(name) = p.rsplit('/').next().filter(|n| !n.is_empty()) {
            out.push(child_dir.join(name));
        }
    } else if p.starts_with('/') {
        out.push(PathBuf::from(&p));
        if let Some(name) = p.rsplit('/').next().filter(|n| !n.is_empty()) {
            out.push(child_dir.join(name));
        }
    } else {
        let rel = p.strip_prefix("./").unwrap_or(&p);
        out.push(child_dir.join(rel));
    }
    out
}

/// Every path to try for the parent of a child at `child_path`, each with where it came
/// from: the locators (W2ru first, as Windows does, then W2ku, MacX, the deprecated ones),
/// then the header's parent name beside the child.
pub fn parent_paths(
    child_path: &Path,
    locators: &[DecodedLocator],
    parent_name: &str,
) -> Vec<(PathBuf, String)> {
    let dir = child_path.parent().unwrap_or(Path::new("."));
    let rank = |code: &str| match code {
        "W2ru" => 0,
        "W2ku" => 1,
        "MacX" => 2,
        "Wi2r" => 3,
        "Wi2k" => 4,
        _ => 5,
    };
    let mut locs: Vec<&DecodedLocator> = locators.iter().collect();
    locs.sort_by_key(|l| (rank(&l.code), l.index));
    let mut out: Vec<(PathBuf, String)> = Vec::new();
    for l in locs {
        if let Ok(p) = &l.path {
            for c in candidates(dir, p) {
                if !out.iter().any(|(q, _)| q == &c) {
                    out.push((c, format!("locator {} ({})", l.index, l.code)));
                }
            }
        }
    }
    if !parent_name.is_empty() {
        for c in candidates(dir, parent_name) {
            if !out.iter().any(|(q, _)| q == &c) {
                out.push((c, "parent unicode name".into()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_paths_map_to_the_child_folder() {
        let d = Path::new("/imgs");
        assert_eq!(
            candidates(d, ".\\base.vhd"),
            vec![PathBuf::from("/imgs/base.vhd")]
        );
        assert_eq!(
            candidates(d, "..\\up\\base.vhd"),
            vec![PathBuf::from("/imgs/../up/base.vhd")]
        );
        assert_eq!(
            candidates(d, "C:\\VMs\\base.vhd"),
            vec![PathBuf::from("/imgs/base.vhd")]
        );
        assert_eq!(
            candidates(d, "/Users/a/base.vhd"),
            vec![
                PathBuf::from("/Users/a/base.vhd"),
                PathBuf::from("/imgs/base.vhd")
            ]
        );
    }

    #[test]
    fn mac_urls() {
        assert_eq!(
            mac_url(b"file://localhost/Users/a/my%20disk.vhd").unwrap(),
            "/Users/a/my disk.vhd"
        );
        assert_eq!(mac_url(b"file:///x.vhd").unwrap(), "/x.vhd");
        assert!(mac_url(b"file:///x%zz.vhd").is_err());
        assert!(mac_url(b"file:///x%2").is_err());
    }

    #[test]
    fn utf16_paths() {
        let b: Vec<u8> = ".\\b.vhd"
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        assert_eq!(utf16le(&b).unwrap(), ".\\b.vhd");
        assert!(utf16le(&[0x41]).is_err());
    }
}
