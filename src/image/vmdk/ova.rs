//! An OVA is a tar archive (POSIX ustar) holding an `.ovf` description and the disks. We read
//! the disk straight from the archive: find its member and read it through a window.

use crate::error::{Error, Result};
use crate::image::source::SourceFile;

const BLOCK: u64 = 512;
const USTAR_MAGIC_AT: usize = 257;
/// The most archive members we look through.
pub const MAX_MEMBERS: usize = 4096;
/// The largest `.ovf` (or pax / GNU long-name record) we read.
pub const MAX_OVF_BYTES: u64 = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    /// Where the member's data starts in the archive.
    pub offset: u64,
    pub size: u64,
}

/// What we found in an OVA: the disk we read, and how we chose it.
#[derive(Debug, Clone)]
pub struct Ova {
    pub disk: Member,
    pub ovf: Option<Member>,
    /// Every `.vmdk` member, the chosen one among them.
    pub disks: Vec<String>,
    /// The disk files the `.ovf` names, in its order.
    pub ovf_files: Vec<String>,
}

/// Whether the first block is a ustar header.
pub fn is_tar(head: &[u8]) -> bool {
    head.get(USTAR_MAGIC_AT..USTAR_MAGIC_AT + 5) == Some(b"ustar")
}

fn octal(field: &[u8]) -> Option<u64> {
    // GNU base-256 for large sizes: the first byte's high bit set.
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        let mut v: u64 = u64::from(field[0] & 0x7f);
        for &b in &field[1..] {
            v = v.checked_mul(256)?.checked_add(u64::from(b))?;
        }
        return Some(v);
    }
    let s: String = field
        .iter()
        .take_while(|&&b| b != 0)
        .map(|&b| b as char)
        .collect();
    let s = s.trim();
    if s.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(s, 8).ok()
}

fn cstr(b: &[u8]) -> String {
    String::from_utf8_lossy(&b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())]).into_owned()
}

/// The archive's regular-file members, in order.
pub fn members(src: &SourceFile) -> Result<Vec<Member>> {
    let mut out = Vec::new();
    let mut at = 0u64;
    let mut long_name: Option<String> = None;
    #[allow(clippy::cast_possible_truncation)] // 512
    let mut h = [0u8; BLOCK as usize];
    for _ in 0..MAX_MEMBERS {
        if at + BLOCK > src.len() {
            break;
        }
        src.read_exact_at(at, &mut h, "tar header")?;
        if h.iter().all(|&b| b == 0) {
            break;
        }
        if !is_tar(&h) {
            return Err(Error::malformed(
                src.path(),
                at + USTAR_MAGIC_AT as u64,
                "tar header magic",
                crate::text::escape(&String::from_utf8_lossy(&h[257..263])),
                "\"ustar\" (an OVA is a POSIX tar archive)",
            ));
        }
        let size = octal(&h[124..136]).ok_or_else(|| {
            Error::malformed(
                src.path(),
                at + 124,
                "tar member size",
                cstr(&h[124..136]),
                "octal digits",
            )
        })?;
        let data = at + BLOCK;
        let end = data
            .checked_add(size)
            .filter(|&e| e <= src.len())
            .ok_or_else(|| {
                Error::malformed(
                    src.path(),
                    at + 124,
                    "tar member size",
                    format!("{size} bytes at offset {data}"),
                    format!("a member inside the {}-byte archive", src.len()),
                )
            })?;
        let kind = h[156];
        let name = {
            let prefix = cstr(&h[345..500]);
            let n = cstr(&h[..100]);
            if prefix.is_empty() {
                n
            } else {
                format!("{prefix}/{n}")
            }
        };
        match kind {
            b'L' | b'x' if size <= MAX_OVF_BYTES => {
                #[allow(clippy::cast_possible_truncation)] // at most MAX_OVF_BYTES (1 MiB)
                let mut b = vec![0u8; size as usize];
                src.read_exact_at(data, &mut b, "tar extended header")?;
                long_name = if kind == b'L' {
                    Some(cstr(&b))
                } else {
                    pax_path(&b)
                };
            }
            b'0' | 0 => {
                let name = long_name.take().unwrap_or(name);
                out.push(Member {
                    name,
                    offset: data,
                    size,
                });
            }
            _ => long_name = None,
        }
        at = end.div_ceil(BLOCK) * BLOCK;
    }
    Ok(out)
}

/// The `path` record of a pax extended header (`"NN path=...\n"` records).
fn pax_path(b: &[u8]) -> Option<String> {
    let s = String::from_utf8_lossy(b);
    s.lines()
        .filter_map(|l| l.split_once(' ').map(|(_, r)| r))
        .find_map(|r| r.strip_prefix("path=").map(str::to_string))
}

fn base_name(n: &str) -> &str {
    n.rsplit('/').next().unwrap_or(n)
}

fn is_vmdk(n: &str) -> bool {
    n.to_ascii_lowercase().ends_with(".vmdk")
}

/// Whether a tar archive holds an OVF package (an `.ovf` or a `.vmdk` member).
pub fn looks_like_ova(src: &SourceFile) -> Result<bool> {
    let Ok(m) = members(src) else {
        return Ok(false);
    };
    Ok(m.iter().any(|m| {
        let n = m.name.to_ascii_lowercase();
        n.ends_with(".ovf") || n.ends_with(".vmdk")
    }))
}

/// The `ovf:href` values of the `.ovf`'s `<File>` elements, in order.
fn ovf_hrefs(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in text.split("<File").skip(1).take(MAX_MEMBERS) {
        let Some(el) = part.split('>').next() else {
            continue;
        };
        if let Some(i) = el.find("href=\"") {
            let rest = &el[i + 6..];
            if let Some(j) = rest.find('"') {
                out.push(rest[..j].to_string());
            }
        }
    }
    out
}

/// Find the disk to read: the first `.vmdk` file the `.ovf` names, else the first `.vmdk`
/// member.
pub fn find_disk(src: &SourceFile) -> Result<Ova> {
    let all = members(src)?;
    let ovf = all
        .iter()
        .find(|m| m.name.to_ascii_lowercase().ends_with(".ovf"))
        .cloned();
    let mut ovf_files = Vec::new();
    if let Some(o) = &ovf {
        let n = o.size.min(MAX_OVF_BYTES);
        let mut b = vec![0u8; n as usize];
        src.read_exact_at(o.offset, &mut b, "OVF descriptor")?;
        ovf_files = ovf_hrefs(&String::from_utf8_lossy(&b));
    }
    let disks: Vec<&Member> = all.iter().filter(|m| is_vmdk(&m.name)).collect();
    let named = ovf_files.iter().filter(|f| is_vmdk(f)).find_map(|f| {
        disks
            .iter()
            .find(|m| m.name == *f || base_name(&m.name) == base_name(f))
    });
    let disk = named.or(disks.first()).copied().cloned().ok_or_else(|| {
        Error::malformed(
            src.path(),
            0,
            "OVA members",
            format!(
                "{} members, none a .vmdk ({})",
                all.len(),
                all.iter()
                    .take(8)
                    .map(|m| crate::text::escape(&m.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "a .vmdk disk member",
        )
    })?;
    Ok(Ova {
        disk,
        ovf,
        disks: disks.iter().map(|m| m.name.clone()).collect(),
        ovf_files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_in_octal_and_base_256() {
        assert_eq!(octal(b"00000001750\0"), Some(1000));
        assert_eq!(octal(b"\x80\0\0\0\0\0\0\x01\0\0\0\0"), Some(1 << 32));
        assert_eq!(octal(b"9\0"), None);
    }

    #[test]
    fn ovf_names_its_files() {
        let ovf = r#"<References><File ovf:href="vm-disk1.vmdk" ovf:id="file1" ovf:size="1"/>
<File ovf:id="f2" ovf:href="vm-disk2.vmdk"/></References>"#;
        assert_eq!(ovf_hrefs(ovf), vec!["vm-disk1.vmdk", "vm-disk2.vmdk"]);
    }
}
