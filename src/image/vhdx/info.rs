//! The VHDX section of `inspect`: every header, region, metadata and log field, the BAT's
//! block states, and the parent chain. Typed fields: the JSON (the documented schema,
//! docs/json.md) is their serde derive, the text is rendered from them.

use std::collections::BTreeMap;

use serde::Serialize;

use super::bat::PayloadState;
use super::file::VhdxFile;
use super::header::Header;
use super::image::VhdxImage;
use super::metadata::item_name;
use crate::error::Result;
use crate::image::format::{Details, Section};
use crate::image::info::{ChainLine, chain_text, or_dash, quoted, size_both};
use crate::text::Table;

pub(super) fn section(v: &VhdxImage) -> Result<Section> {
    let mut warnings = Vec::new();
    for l in &v.layers {
        for f in &l.findings {
            warnings.push(format!("{}: {}", l.src().path().display(), f.message()));
        }
    }
    warnings.extend(v.warnings.iter().cloned());
    let mut info = layer_info(v.top())?;
    if v.layers.len() > 1 {
        let chain = v
            .layers
            .iter()
            .skip(1)
            .zip(&v.found_via)
            .map(|(l, via)| {
                Ok(VhdxLink {
                    file: l.src().path().display().to_string(),
                    disk_type: l.disk_type(),
                    data_write_guid: l.headers.header.data_write_guid.to_string(),
                    virtual_size: l.virtual_size(),
                    allocated_bytes: l.allocated_bytes()?,
                    found_via: via.clone(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        info.parent = Some(chain.first().cloned());
        info.chain = Some(chain);
    }
    Ok(Section {
        details: Some(Box::new(info)),
        warnings,
    })
}

/// The `vhdx` section: the opened file's headers, regions, metadata, BAT and log, and its
/// parents.
#[derive(Debug, Serialize)]
pub struct VhdxInfo {
    pub disk_type: &'static str,
    pub creator: String,
    /// 1 or 2.
    pub current_header: usize,
    pub header: HeaderInfo,
    pub headers: Vec<HeaderSlot>,
    pub region_table: RegionTable,
    pub metadata: MetadataInfo,
    pub block_size: u32,
    pub leave_blocks_allocated: bool,
    pub has_parent: bool,
    pub virtual_size: u64,
    pub logical_sector_size: u32,
    pub physical_sector_size: u32,
    pub page83_data: Option<String>,
    pub parent_locator: Option<ParentLocatorInfo>,
    pub bat: BatInfo,
    pub log: LogInfo,
    /// The first of `chain` (present, and then never `null` in practice, with a chain).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<Option<VhdxLink>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain: Option<Vec<VhdxLink>>,
}

#[derive(Debug, Serialize)]
pub struct HeaderInfo {
    pub offset: u64,
    pub sequence_number: u64,
    pub checksum: String,
    pub file_write_guid: String,
    pub data_write_guid: String,
    pub log_guid: String,
    pub log_version: u16,
    pub version: u16,
    pub log_length: u32,
    pub log_offset: u64,
}

/// One of the two header slots: its header, or why it is damaged.
#[derive(Debug, Serialize)]
pub struct HeaderSlot {
    pub index: usize,
    pub valid: bool,
    pub header: Option<HeaderInfo>,
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct RegionTable {
    pub copy_used: usize,
    pub other_copy_problem: Option<String>,
    pub regions: Vec<RegionInfo>,
}

#[derive(Debug, Serialize)]
pub struct RegionInfo {
    pub guid: String,
    pub name: String,
    pub file_offset: u64,
    pub length: u32,
    pub required: bool,
}

#[derive(Debug, Serialize)]
pub struct MetadataInfo {
    pub offset: u64,
    pub items: Vec<MetadataItem>,
}

#[derive(Debug, Serialize)]
pub struct MetadataItem {
    pub item_id: String,
    pub name: String,
    pub offset: u32,
    pub length: u32,
    pub is_user: bool,
    pub is_virtual_disk: bool,
    pub is_required: bool,
}

#[derive(Debug, Serialize)]
pub struct ParentLocatorInfo {
    pub offset: u64,
    pub locator_type: String,
    pub entries: Vec<LocatorEntry>,
}

#[derive(Debug, Serialize)]
pub struct LocatorEntry {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Serialize)]
pub struct BatInfo {
    pub offset: u64,
    pub entries: u64,
    pub chunk_ratio: u64,
    pub payload_blocks: u64,
    pub sector_bitmap_blocks: u64,
    pub sector_bitmaps_present: u64,
    /// Payload blocks by state name.
    pub payload_states: BTreeMap<&'static str, u64>,
}

#[derive(Debug, Serialize)]
pub struct LogInfo {
    pub offset: u64,
    pub length: u32,
    pub guid: String,
    pub empty: bool,
    pub replayed: Option<ReplayInfo>,
}

#[derive(Debug, Serialize)]
pub struct ReplayInfo {
    pub entries: u32,
    pub tail_sequence: u64,
    pub head_sequence: u64,
    pub tail_offset: u32,
    pub head_offset: u32,
    pub data_sectors: u64,
    pub zero_bytes: u64,
    pub flushed_file_offset: u64,
    pub last_file_offset: u64,
    pub file_length: u64,
}

/// A parent in the chain.
#[derive(Debug, Clone, Serialize)]
pub struct VhdxLink {
    pub file: String,
    pub disk_type: &'static str,
    pub data_write_guid: String,
    pub virtual_size: u64,
    pub allocated_bytes: u64,
    pub found_via: String,
}

fn header_info(h: &Header) -> HeaderInfo {
    HeaderInfo {
        offset: h.offset,
        sequence_number: h.sequence,
        checksum: format!("{:#010x}", h.checksum),
        file_write_guid: h.file_write_guid.to_string(),
        data_write_guid: h.data_write_guid.to_string(),
        log_guid: h.log_guid.to_string(),
        log_version: h.log_version,
        version: h.version,
        log_length: h.log_length,
        log_offset: h.log_offset,
    }
}

fn layer_info(l: &VhdxFile) -> Result<VhdxInfo> {
    let m = &l.meta;
    let headers = l
        .headers
        .slots
        .iter()
        .enumerate()
        .map(|(i, s)| HeaderSlot {
            index: i + 1,
            valid: s.is_ok(),
            header: s.as_ref().ok().map(header_info),
            error: s.as_ref().err().map(|f| f.message()),
        })
        .collect();
    let regions = l
        .regions
        .all
        .iter()
        .map(|r| RegionInfo {
            guid: r.guid.to_string(),
            name: r.name(),
            file_offset: r.file_offset,
            length: r.length,
            required: r.required,
        })
        .collect();
    let items = m
        .entries
        .iter()
        .map(|e| MetadataItem {
            item_id: e.item.to_string(),
            name: if e.is_user {
                format!("user item {}", e.item)
            } else {
                item_name(&e.item)
            },
            offset: e.offset,
            length: e.length,
            is_user: e.is_user,
            is_virtual_disk: e.is_virtual_disk,
            is_required: e.is_required,
        })
        .collect();
    // The counts need every entry: one pass over the BAT, in pieces (see vhdx::bat::Bat).
    let summary = l.bat.summary(&l.view)?;
    let payload_states = PayloadState::ALL
        .iter()
        .zip(summary.states)
        .map(|(s, n)| (s.name(), n))
        .collect();
    let h = &l.headers.header;
    let log = match &l.replay {
        None => LogInfo {
            offset: h.log_offset,
            length: h.log_length,
            guid: h.log_guid.to_string(),
            empty: true,
            replayed: None,
        },
        Some(r) => LogInfo {
            offset: r.log_offset,
            length: r.log_length,
            guid: r.log_guid.to_string(),
            empty: false,
            replayed: Some(ReplayInfo {
                entries: r.entries,
                tail_sequence: r.tail_sequence,
                head_sequence: r.head_sequence,
                tail_offset: r.tail,
                head_offset: r.head,
                data_sectors: r.data_sectors,
                zero_bytes: r.zero_bytes,
                flushed_file_offset: r.flushed_file_offset,
                last_file_offset: r.last_file_offset,
                file_length: r.file_length,
            }),
        },
    };
    Ok(VhdxInfo {
        disk_type: l.disk_type(),
        creator: l.creator.clone(),
        current_header: l.headers.current + 1,
        header: header_info(h),
        headers,
        region_table: RegionTable {
            copy_used: l.regions.copy + 1,
            other_copy_problem: l.regions.other.as_ref().map(|f| f.message()),
            regions,
        },
        metadata: MetadataInfo {
            offset: l.regions.metadata.file_offset,
            items,
        },
        block_size: m.block_size,
        leave_blocks_allocated: m.leave_blocks_allocated,
        has_parent: m.has_parent,
        virtual_size: m.virtual_size,
        logical_sector_size: m.logical_sector_size,
        physical_sector_size: m.physical_sector_size,
        page83_data: m.page83.map(|g| g.to_string()),
        parent_locator: m.parent.as_ref().map(|p| ParentLocatorInfo {
            offset: p.offset,
            locator_type: p.locator_type.to_string(),
            entries: p
                .entries
                .iter()
                .map(|(k, v)| LocatorEntry {
                    key: k.clone(),
                    value: v.clone(),
                })
                .collect(),
        }),
        bat: BatInfo {
            offset: l.bat.offset,
            entries: l.bat.total,
            chunk_ratio: l.bat.chunk_ratio,
            payload_blocks: l.bat.data_blocks,
            sector_bitmap_blocks: l.bat.bitmap_blocks,
            sector_bitmaps_present: summary.bitmaps_present,
            payload_states,
        },
        log,
        parent: None,
        chain: None,
    })
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

impl Details for VhdxInfo {
    fn key(&self) -> &'static str {
        "vhdx"
    }

    fn text(&self) -> String {
        let mut t = Table::default();
        t.row("disk type", self.disk_type.into());
        t.row("creator", quoted(&self.creator));
        t.row("block size", size_both(self.block_size.into()));
        t.row(
            "sector size",
            format!(
                "{} logical, {} physical",
                self.logical_sector_size, self.physical_sector_size
            ),
        );
        t.row("virtual disk size", size_both(self.virtual_size));
        t.row(
            "flags",
            format!(
                "leave blocks allocated: {}, has parent: {}",
                yes(self.leave_blocks_allocated),
                yes(self.has_parent)
            ),
        );
        t.row("page 83 data", or_dash(self.page83_data.as_ref()));
        let h = &self.header;
        t.row(
            "header in use",
            format!(
                "{} at offset {} (sequence {}, checksum {} ok)",
                self.current_header, h.offset, h.sequence_number, h.checksum
            ),
        );
        for x in self.headers.iter().filter(|x| !x.valid) {
            t.row(
                &format!("header {}", x.index),
                format!("DAMAGED: {}", or_dash(x.error.as_ref())),
            );
        }
        t.row("file write guid", h.file_write_guid.clone());
        t.row("data write guid", h.data_write_guid.clone());
        t.row(
            "version",
            format!("{} (log version {})", h.version, h.log_version),
        );
        t.row("log", self.log.text());
        let rt = &self.region_table;
        for r in &rt.regions {
            t.row(
                &format!("region {}", r.name),
                format!(
                    "{} bytes at offset {}{}",
                    r.length,
                    r.file_offset,
                    if r.required { ", required" } else { "" }
                ),
            );
        }
        t.row(
            "region table",
            format!(
                "copy {} used{}",
                rt.copy_used,
                rt.other_copy_problem
                    .as_ref()
                    .map(|p| format!("; other copy: {p}"))
                    .unwrap_or_default()
            ),
        );
        for m in &self.metadata.items {
            t.row(
                &format!("metadata {}", m.name),
                format!("{} bytes at +{}", m.length, m.offset),
            );
        }
        t.row("BAT", self.bat.text());
        for e in self.parent_locator.iter().flat_map(|p| &p.entries) {
            t.row(&format!("parent {}", e.key), e.value.clone());
        }
        let mut out = String::from("VHDX:\n");
        out.push_str(&t.render(4));
        if let Some(chain) = &self.chain {
            out.push_str(&chain_text(chain.iter().map(|l| ChainLine {
                file: &l.file,
                kind: l.disk_type.into(),
                id: ("data write guid", l.data_write_guid.clone()),
                allocated: l.allocated_bytes,
                found_via: Some(&l.found_via),
            })));
        }
        out
    }
}

impl LogInfo {
    fn text(&self) -> String {
        let state = match &self.replayed {
            None => "empty".to_string(),
            Some(r) => format!(
                "NOT EMPTY: {} entries (sequence {} to {}) replayed in memory: {} data sectors, {} bytes zeroed; the file was not closed cleanly",
                r.entries, r.tail_sequence, r.head_sequence, r.data_sectors, r.zero_bytes
            ),
        };
        format!(
            "{} bytes at offset {}, guid {}: {state}",
            self.length, self.offset, self.guid
        )
    }
}

impl BatInfo {
    fn text(&self) -> String {
        let states: Vec<String> = self
            .payload_states
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| format!("{n} {k}"))
            .collect();
        format!(
            "{} entries at offset {}, chunk ratio {}, {} payload blocks ({}), {} of {} sector bitmaps present",
            self.entries,
            self.offset,
            self.chunk_ratio,
            self.payload_blocks,
            states.join(", "),
            self.sector_bitmaps_present,
            self.sector_bitmap_blocks
        )
    }
}
