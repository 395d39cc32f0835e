//! The VHD section of `inspect`: every footer and dynamic-header field, the parent locators
//! and, for a differencing disk, the chain. Typed fields: the JSON (the documented schema,
//! docs/json.md) is their serde derive, the text is rendered from them.

use serde::Serialize;

use super::footer::{self, FEATURE_RESERVED, FEATURE_TEMPORARY, Footer};
use super::{FooterSource, VhdFile, VhdImage, parent, validate};
use crate::error::Result;
use crate::image::format::{Details, Section};
use crate::image::info::{ChainLine, chain_text, or_dash, quoted, size_both};
use crate::text::Table;

/// The `vhd` section and the warnings found while opening the chain.
pub(super) fn section(v: &VhdImage) -> Result<Section> {
    let mut warnings = Vec::new();
    for l in &v.layers {
        for f in &l.findings {
            warnings.push(format!("{}: {}", l.src.path().display(), f.message()));
        }
        if let Some(w) = validate::size_disagreement(&l.footer, l.virtual_size) {
            warnings.push(format!("{}: {w}", l.src.path().display()));
        }
    }
    warnings.extend(v.warnings.iter().cloned());
    Ok(Section {
        details: Some(Box::new(VhdInfo::new(v)?)),
        warnings,
    })
}

pub(super) fn layer_allocated(l: &VhdFile) -> Result<u64> {
    if l.disk_type() == footer::DiskType::Differencing {
        l.sector_allocated_bytes()
    } else {
        Ok(l.allocated_bytes())
    }
}

/// The `vhd` section: the opened file's footer and dynamic header, and its parents.
#[derive(Debug, Serialize)]
pub struct VhdInfo {
    #[serde(flatten)]
    pub footer: FooterInfo,
    pub footer_offset: u64,
    pub footer_source: &'static str,
    pub footer_checksum_ok: bool,
    pub end_footer_ok: bool,
    pub footer_copy: Option<FooterCopy>,
    pub virtual_size: u64,
    pub size_source: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dynamic: Option<DynamicInfo>,
    /// The first of `chain`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<VhdLink>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain: Option<Vec<VhdLink>>,
}

#[derive(Debug, Serialize)]
pub struct FooterInfo {
    pub disk_type: &'static str,
    pub cookie: String,
    pub features: u32,
    pub feature_flags: Vec<&'static str>,
    pub format_version: String,
    pub data_offset: Option<u64>,
    pub timestamp: u32,
    pub timestamp_utc: String,
    pub creator_app: String,
    pub creator_version: String,
    pub creator_host_os: String,
    pub original_size: u64,
    pub current_size: u64,
    pub geometry: Geometry,
    pub checksum: String,
    pub unique_id: String,
    pub saved_state: bool,
}

#[derive(Debug, Serialize)]
pub struct Geometry {
    pub cylinders: u16,
    pub heads: u8,
    pub sectors_per_track: u8,
    pub bytes: u64,
}

#[derive(Debug, Serialize)]
pub struct FooterCopy {
    pub present: bool,
    pub matches: bool,
}

#[derive(Debug, Serialize)]
pub struct DynamicInfo {
    pub header_offset: u64,
    pub data_offset: Option<u64>,
    pub table_offset: u64,
    pub header_version: String,
    pub max_table_entries: u32,
    pub block_size: u64,
    pub bitmap_size: u64,
    pub checksum: String,
    pub header_checksum_ok: bool,
    pub blocks: usize,
    pub allocated_blocks: u64,
    /// The four `parent_*` fields are `null` unless the disk is differencing.
    pub parent_unique_id: Option<String>,
    pub parent_timestamp: Option<u32>,
    pub parent_timestamp_utc: Option<String>,
    pub parent_name: Option<String>,
    pub parent_locators: Vec<LocatorInfo>,
}

#[derive(Debug, Serialize)]
pub struct LocatorInfo {
    pub index: usize,
    pub code: String,
    pub data_space: u32,
    pub data_length: u32,
    pub data_offset: u64,
    /// The decoded path, or `error` says why it could not be decoded.
    pub path: Option<String>,
    pub error: Option<String>,
}

/// A parent in the chain.
#[derive(Debug, Clone, Serialize)]
pub struct VhdLink {
    pub file: String,
    pub disk_type: &'static str,
    pub unique_id: String,
    pub virtual_size: u64,
    pub allocated_bytes: u64,
    /// Which locator (or the parent name) found it.
    pub found_via: Option<String>,
}

impl VhdInfo {
    fn new(v: &VhdImage) -> Result<Self> {
        let mut info = layer_info(v.top());
        if v.layers.len() > 1 {
            let mut chain = Vec::new();
            for (i, l) in v.layers.iter().enumerate().skip(1) {
                let via = v.parent_search.get(i - 1).and_then(|tried| {
                    tried
                        .iter()
                        .find(|(p, _)| p == l.src.path())
                        .map(|(_, from)| from.clone())
                });
                chain.push(VhdLink {
                    file: l.src.path().display().to_string(),
                    disk_type: l.disk_type().name(),
                    unique_id: footer::uuid_string(&l.footer.unique_id),
                    virtual_size: l.virtual_size,
                    allocated_bytes: layer_allocated(l)?,
                    found_via: via,
                });
            }
            info.parent = chain.first().cloned();
            info.chain = Some(chain);
        }
        Ok(info)
    }
}

fn layer_info(l: &VhdFile) -> VhdInfo {
    let f = &l.footer;
    VhdInfo {
        footer: footer_info(f),
        footer_offset: l.footer_offset,
        footer_source: match l.footer_source {
            FooterSource::End => "end",
            FooterSource::End511 => "end-511",
            FooterSource::Copy => "copy-at-0",
        },
        footer_checksum_ok: true,
        end_footer_ok: l.footer_source != FooterSource::Copy,
        footer_copy: l.footer_copy.as_ref().map(|c| FooterCopy {
            present: true,
            matches: c == f,
        }),
        virtual_size: l.virtual_size,
        size_source: l.size_source.name(),
        dynamic: l.sparse.as_ref().map(|sp| dynamic_info(l, sp)),
        parent: None,
        chain: None,
    }
}

fn dynamic_info(l: &VhdFile, sp: &super::Sparse) -> DynamicInfo {
    let h = &sp.header;
    let parent_locators = parent::decode_locators(&l.src, h)
        .into_iter()
        .map(|d| LocatorInfo {
            index: d.index,
            data_space: h.locators.get(d.index).map_or(0, |x| x.data_space),
            data_length: d.data_length,
            data_offset: d.data_offset,
            code: d.code,
            path: d.path.as_ref().ok().cloned(),
            error: d.path.err(),
        })
        .collect();
    let differencing = l.disk_type() == footer::DiskType::Differencing;
    DynamicInfo {
        header_offset: sp.header_offset,
        data_offset: (h.data_offset != u64::MAX).then_some(h.data_offset),
        table_offset: h.table_offset,
        header_version: version(h.header_version),
        max_table_entries: h.max_table_entries,
        block_size: sp.block_size,
        bitmap_size: sp.bitmap_size,
        checksum: format!("{:#010x}", h.checksum),
        header_checksum_ok: true,
        blocks: sp.bat.len(),
        allocated_blocks: sp.allocated_blocks(),
        parent_unique_id: differencing.then(|| footer::uuid_string(&h.parent_unique_id)),
        parent_timestamp: differencing.then_some(h.parent_timestamp),
        parent_timestamp_utc: differencing.then(|| footer::vhd_time(h.parent_timestamp)),
        parent_name: differencing.then(|| h.parent_name_string()),
        parent_locators,
    }
}

fn footer_info(f: &Footer) -> FooterInfo {
    let mut feature_flags = Vec::new();
    if f.features & FEATURE_TEMPORARY != 0 {
        feature_flags.push("temporary");
    }
    if f.features & FEATURE_RESERVED != 0 {
        feature_flags.push("reserved");
    }
    FooterInfo {
        disk_type: f.kind().map(|k| k.name()).unwrap_or("unknown"),
        cookie: String::from_utf8_lossy(&f.cookie).into_owned(),
        features: f.features,
        feature_flags,
        format_version: version(f.format_version),
        data_offset: (f.data_offset != u64::MAX).then_some(f.data_offset),
        timestamp: f.timestamp,
        timestamp_utc: footer::vhd_time(f.timestamp),
        creator_app: f.creator_app_str(),
        creator_version: version(f.creator_version),
        creator_host_os: f.creator_host_os_str(),
        original_size: f.original_size,
        current_size: f.current_size,
        geometry: Geometry {
            cylinders: f.geometry.cylinders,
            heads: f.geometry.heads,
            sectors_per_track: f.geometry.sectors,
            bytes: f.geometry.bytes(),
        },
        checksum: format!("{:#010x}", f.checksum),
        unique_id: footer::uuid_string(&f.unique_id),
        saved_state: f.saved_state != 0,
    }
}

/// A major.minor version word as text.
fn version(v: u32) -> String {
    format!("{}.{}", v >> 16, v & 0xffff)
}

impl Details for VhdInfo {
    fn key(&self) -> &'static str {
        "vhd"
    }

    fn text(&self) -> String {
        let f = &self.footer;
        let mut t = Table::default();
        t.row("disk type", f.disk_type.into());
        t.row(
            "creator",
            format!(
                "{} {} on {}",
                quoted(&f.creator_app),
                f.creator_version,
                quoted(&f.creator_host_os)
            ),
        );
        t.row(
            "timestamp",
            format!("{} ({})", f.timestamp_utc, f.timestamp),
        );
        t.row("current size", size_both(f.current_size));
        t.row("original size", size_both(f.original_size));
        let g = &f.geometry;
        t.row(
            "geometry (C/H/S)",
            format!(
                "{}/{}/{} ({} bytes)",
                g.cylinders, g.heads, g.sectors_per_track, g.bytes
            ),
        );
        t.row("size taken from", self.size_source.into());
        t.row("unique id", f.unique_id.clone());
        t.row("checksum", format!("{} (ok)", f.checksum));
        t.row(
            "footer",
            format!(
                "at offset {} ({}){}",
                self.footer_offset,
                self.footer_source,
                match self.footer_copy.as_ref().map(|c| c.matches) {
                    Some(true) => ", copy at offset 0 matches",
                    Some(false) => ", copy at offset 0 DIFFERS",
                    None => "",
                }
            ),
        );
        t.row(
            "features",
            format!("{:#x} ({})", f.features, f.feature_flags.join(", ")),
        );
        t.row("format version", f.format_version.clone());
        t.row(
            "data offset",
            f.data_offset
                .map_or("none (fixed)".into(), |x| x.to_string()),
        );
        t.row(
            "saved state",
            if f.saved_state { "yes" } else { "no" }.into(),
        );
        let mut out = String::from("VHD footer:\n");
        out.push_str(&t.render(4));
        if let Some(dy) = &self.dynamic {
            out.push_str(&dy.text());
        }
        if let Some(chain) = &self.chain {
            out.push_str(&chain_text(chain.iter().map(|l| ChainLine {
                file: &l.file,
                kind: l.disk_type.into(),
                id: ("id", l.unique_id.clone()),
                allocated: l.allocated_bytes,
                found_via: l.found_via.as_deref(),
            })));
        }
        out
    }
}

impl DynamicInfo {
    fn text(&self) -> String {
        let mut t = Table::default();
        t.row("header offset", self.header_offset.to_string());
        t.row("table offset", self.table_offset.to_string());
        t.row("max table entries", self.max_table_entries.to_string());
        t.row("block size", size_both(self.block_size));
        t.row(
            "allocated blocks",
            format!("{} of {}", self.allocated_blocks, self.blocks),
        );
        t.row("checksum", format!("{} (ok)", self.checksum));
        t.row("header version", self.header_version.clone());
        if let Some(id) = &self.parent_unique_id {
            t.row("parent unique id", id.clone());
            t.row(
                "parent timestamp",
                format!(
                    "{} ({})",
                    or_dash(self.parent_timestamp_utc.as_ref()),
                    self.parent_timestamp.unwrap_or_default()
                ),
            );
            t.row("parent name", or_dash(self.parent_name.as_ref()));
        }
        for l in &self.parent_locators {
            let what = match (&l.path, &l.error) {
                (Some(p), _) => p.clone(),
                (None, e) => format!("unusable: {}", or_dash(e.as_ref())),
            };
            t.row(
                &format!("parent locator {}", l.index),
                format!(
                    "{} at {} ({} bytes): {what}",
                    quoted(&l.code),
                    l.data_offset,
                    l.data_length
                ),
            );
        }
        let mut out = String::from("VHD dynamic header:\n");
        out.push_str(&t.render(4));
        out
    }
}
