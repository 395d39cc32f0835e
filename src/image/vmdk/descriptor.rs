//! The VMDK text descriptor: `key=value` lines (`version`, `CID`, `parentCID`, `createType`,
//! `parentFileNameHint`), extent lines (`RW 4192256 SPARSE "disk-s001.vmdk"`) and the disk
//! database (`ddb.geometry.cylinders = "1024"`). Embedded in a sparse extent or a file of its
//! own.

/// The signature line a descriptor file starts with.
pub const DESCRIPTOR_SIGNATURE: &[u8] = b"# Disk DescriptorFile";
/// The most extent lines one descriptor may have (a 2 TiB twoGbMaxExtent disk has 1024).
pub const MAX_EXTENTS: usize = 8192;
/// `parentCID` of a disk without a parent.
pub const CID_NONE: u32 = 0xffff_ffff;

/// One extent line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtentLine {
    /// `RW`, `RDONLY` or `NOACCESS`.
    pub access: String,
    pub sectors: u64,
    /// `SPARSE`, `FLAT`, `ZERO`, `VMFS`, ... as written.
    pub kind: String,
    pub file: Option<String>,
    /// Offset in sectors into the file (FLAT and VMFS extents).
    pub offset: u64,
    /// Byte offset of the line in the descriptor text.
    pub at: usize,
}

#[derive(Debug, Clone, Default)]
pub struct Descriptor {
    pub version: Option<String>,
    pub cid: Option<u32>,
    pub parent_cid: Option<u32>,
    pub create_type: String,
    pub parent_hint: Option<String>,
    pub encoding: Option<String>,
    pub extents: Vec<ExtentLine>,
    /// Every `ddb.*` entry, in order, quotes removed.
    pub ddb: Vec<(String, String)>,
    /// Other `key=value` lines we do not interpret.
    pub other: Vec<(String, String)>,
}

/// Why a descriptor could not be read: the byte offset of the line, what was found there and
/// what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub at: usize,
    pub field: String,
    pub found: String,
    pub expected: String,
}

impl Descriptor {
    pub fn ddb(&self, key: &str) -> Option<&str> {
        self.ddb
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    pub fn has_parent(&self) -> bool {
        self.parent_cid.is_some_and(|c| c != CID_NONE)
    }

    /// The virtual size the extent lines add up to, in bytes.
    pub fn extents_bytes(&self) -> Option<u64> {
        self.extents
            .iter()
            .try_fold(0u64, |a, e| a.checked_add(e.sectors))?
            .checked_mul(512)
    }
}

fn unquote(v: &str) -> &str {
    let v = v.trim();
    v.strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .unwrap_or(v)
}

fn err(at: usize, field: &str, found: &str, expected: &str) -> ParseError {
    ParseError {
        at,
        field: field.into(),
        found: crate::text::escape(&found.chars().take(120).collect::<String>()),
        expected: expected.into(),
    }
}

fn hex_cid(at: usize, field: &str, v: &str) -> Result<u32, ParseError> {
    u32::from_str_radix(v, 16)
        .map_err(|_| err(at, field, v, "a hexadecimal number of at most 8 digits"))
}

/// Parse descriptor text (already cut at its first NUL).
pub fn parse(text: &str) -> Result<Descriptor, ParseError> {
    let mut d = Descriptor::default();
    let mut at = 0usize;
    let mut create_type = None;
    for raw in text.split_inclusive('\n') {
        let line_at = at;
        at += raw.len();
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(e) = extent_line(line, line_at)? {
            if d.extents.len() >= MAX_EXTENTS {
                return Err(err(
                    line_at,
                    "extent lines",
                    &format!("more than {MAX_EXTENTS}"),
                    &format!("at most {MAX_EXTENTS} (imgtool's limit)"),
                ));
            }
            d.extents.push(e);
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            return Err(err(
                line_at,
                "descriptor line",
                line,
                "key=value, an extent line or a comment",
            ));
        };
        let (k, v) = (k.trim(), unquote(v));
        match k {
            "version" => d.version = Some(v.into()),
            "CID" => d.cid = Some(hex_cid(line_at, "CID", v)?),
            "parentCID" => d.parent_cid = Some(hex_cid(line_at, "parentCID", v)?),
            "createType" => create_type = Some(v.to_string()),
            "parentFileNameHint" => d.parent_hint = Some(v.into()),
            "encoding" => d.encoding = Some(v.into()),
            _ if k.starts_with("ddb.") => d.ddb.push((k.into(), v.into())),
            _ => d.other.push((k.into(), v.into())),
        }
    }
    d.create_type = create_type.ok_or_else(|| {
        err(
            0,
            "createType",
            "no createType line",
            "createType=\"...\" (monolithicSparse, streamOptimized, ...)",
        )
    })?;
    Ok(d)
}

/// `ACCESS SECTORS TYPE ["FILE" [OFFSET]]`, or `None` when the line is not an extent line.
fn extent_line(line: &str, at: usize) -> Result<Option<ExtentLine>, ParseError> {
    let mut words = line.splitn(3, char::is_whitespace);
    let access = words.next().unwrap_or("");
    if !matches!(access, "RW" | "RDONLY" | "NOACCESS") {
        return Ok(None);
    }
    let expected = "ACCESS SECTORS TYPE \"FILE\" [OFFSET]";
    let sectors = words
        .next()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| err(at, "extent line", line, expected))?;
    let rest = words.next().unwrap_or("").trim_start();
    let (kind, rest) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    if kind.is_empty() {
        return Err(err(at, "extent line", line, expected));
    }
    let rest = rest.trim();
    let (file, tail) = if let Some(r) = rest.strip_prefix('"') {
        let (name, tail) = r
            .split_once('"')
            .ok_or_else(|| err(at, "extent file name", line, "a name in double quotes"))?;
        (Some(name.to_string()), tail.trim())
    } else if rest.is_empty() {
        (None, "")
    } else {
        return Err(err(at, "extent file name", line, "a name in double quotes"));
    };
    let offset = if tail.is_empty() {
        0
    } else {
        tail.parse::<u64>()
            .map_err(|_| err(at, "extent offset", tail, "a number of sectors"))?
    };
    if file.is_none() && kind != "ZERO" {
        return Err(err(
            at,
            "extent line",
            line,
            "a file name for a non-ZERO extent",
        ));
    }
    Ok(Some(ExtentLine {
        access: access.into(),
        sectors,
        kind: kind.into(),
        file,
        offset,
        at,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const QEMU: &str = "# Disk DescriptorFile\nversion=1\nCID=52b1e5a3\nparentCID=ffffffff\n\
createType=\"twoGbMaxExtentFlat\"\n\n# Extent description\nRW 4194304 FLAT \"d-f001.vmdk\" 0\n\
RW 2048 FLAT \"my disk-f002.vmdk\" 10\nRDONLY 100 ZERO\n\n# The Disk Data Base\n#DDB\n\n\
ddb.virtualHWVersion = \"4\"\nddb.geometry.cylinders = \"4161\"\nddb.adapterType = \"ide\"\n";

    #[test]
    fn reads_qemu_style_descriptors() {
        let d = parse(QEMU).unwrap();
        assert_eq!(d.create_type, "twoGbMaxExtentFlat");
        assert_eq!(d.cid, Some(0x52b1e5a3));
        assert!(!d.has_parent());
        assert_eq!(d.extents.len(), 3);
        assert_eq!(d.extents[1].file.as_deref(), Some("my disk-f002.vmdk"));
        assert_eq!(d.extents[1].offset, 10);
        assert_eq!(d.extents[2].kind, "ZERO");
        assert_eq!(d.ddb("ddb.geometry.cylinders"), Some("4161"));
        assert_eq!(d.extents_bytes(), Some((4194304 + 2048 + 100) * 512));
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        assert!(parse("version=1\n").is_err());
        assert!(parse("createType=\"x\"\nRW abc SPARSE \"a\"\n").is_err());
        assert!(parse("createType=\"x\"\nRW 1 SPARSE \"a\n").is_err());
        assert!(parse("createType=\"x\"\nRW 1 SPARSE\n").is_err());
        assert!(parse("createType=\"x\"\nCID=zz\n").is_err());
        assert!(parse("createType=\"x\"\ngarbage\n").is_err());
    }
}
