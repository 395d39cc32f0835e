//! The VMDK section of `inspect`: the descriptor (every key and `ddb.*` entry), each extent
//! with its sparse header's fields, the OVA member read, and the parent chain. Typed fields:
//! the JSON (the documented schema, docs/json.md) is their serde derive, the text is rendered
//! from them.

use std::collections::BTreeMap;

use serde::Serialize;

use super::descriptor::Descriptor;
use super::disk::VmdkImage;
use super::header::{GD_AT_END, SparseHeader};
use super::layer::{Container, Data, Layer};
use super::sparse::SparseExtent;
use crate::image::format::{Details, Section};
use crate::image::info::{ChainLine, chain_text, or_dash, quoted, size_both};
use crate::text::Table;

pub(super) fn section(v: &VmdkImage) -> Section {
    let mut warnings = Vec::new();
    for l in &v.layers {
        warnings.extend(l.warning_texts());
    }
    warnings.extend(v.warnings.iter().cloned());
    let mut info = layer_info(v.top());
    if v.layers.len() > 1 {
        let chain: Vec<VmdkLink> = v
            .layers
            .iter()
            .skip(1)
            .map(|l| VmdkLink {
                file: l.src().path().display().to_string(),
                create_type: l.descriptor.as_ref().map(|d| d.create_type.clone()),
                cid: l.descriptor.as_ref().and_then(|d| d.cid).map(cid),
                virtual_size: l.size,
                allocated_bytes: l.allocated_bytes(),
            })
            .collect();
        info.parent = chain.first().cloned();
        info.chain = Some(chain);
    }
    Section {
        details: Some(Box::new(info)),
        warnings,
    }
}

/// The `vmdk` section: the opened file's descriptor, extents and OVA member, and its parents.
#[derive(Debug, Serialize)]
pub struct VmdkInfo {
    pub container: &'static str,
    pub create_type: Option<String>,
    pub descriptor: Option<DescriptorInfo>,
    pub extents: Vec<ExtentInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ova: Option<OvaInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<VmdkLink>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain: Option<Vec<VmdkLink>>,
}

#[derive(Debug, Serialize)]
pub struct DescriptorInfo {
    /// Where the descriptor lies in its file, and its bytes.
    pub offset: u64,
    pub size: u64,
    pub version: Option<String>,
    pub cid: Option<String>,
    pub parent_cid: Option<String>,
    pub has_parent: bool,
    pub parent_file_name_hint: Option<String>,
    pub encoding: Option<String>,
    pub geometry: GeometryInfo,
    pub adapter_type: Option<String>,
    pub virtual_hw_version: Option<String>,
    pub uuid: Option<String>,
    pub ddb: BTreeMap<String, String>,
    pub other: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
pub struct GeometryInfo {
    pub cylinders: Option<u64>,
    pub heads: Option<u64>,
    pub sectors: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct ExtentInfo {
    pub start: u64,
    pub size: u64,
    pub access: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    pub file: Option<String>,
    pub offset: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sparse: Option<SparseInfo>,
}

#[derive(Debug, Serialize)]
pub struct SparseInfo {
    #[serde(flatten)]
    pub header: HeaderInfo,
    /// "footer" (a stream's header at the end, after GD_AT_END) or "start".
    pub header_source: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_header: Option<HeaderInfo>,
    pub grain_bytes: u64,
    pub gd_entries: usize,
    pub grain_tables: usize,
    pub grains: u64,
    pub allocated_grains: u64,
    pub zeroed_grains: u64,
}

#[derive(Debug, Serialize)]
pub struct HeaderInfo {
    pub offset: u64,
    pub magic: String,
    pub version: u32,
    pub flags: String,
    pub flag_names: Vec<&'static str>,
    pub capacity: u64,
    pub grain_size: u64,
    pub descriptor_offset: u64,
    pub descriptor_size: u64,
    pub num_gtes_per_gt: u32,
    pub rgd_offset: u64,
    pub gd_offset: GdOffset,
    pub overhead: u64,
    pub unclean_shutdown: bool,
    pub compress_algorithm: String,
}

/// The grain directory's sector, or `"GD_AT_END"` (a stream's header at the start).
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum GdOffset {
    AtEnd(&'static str),
    Sector(u64),
}

#[derive(Debug, Serialize)]
pub struct OvaInfo {
    pub member: String,
    pub member_offset: u64,
    pub member_size: u64,
    pub ovf: Option<String>,
    pub disks: Vec<String>,
    pub ovf_files: Vec<String>,
}

/// A parent in the chain.
#[derive(Debug, Clone, Serialize)]
pub struct VmdkLink {
    pub file: String,
    pub create_type: Option<String>,
    pub cid: Option<String>,
    pub virtual_size: u64,
    pub allocated_bytes: u64,
}

fn cid(c: u32) -> String {
    format!("{c:08x}")
}

fn layer_info(l: &Layer) -> VmdkInfo {
    let container = match &l.container {
        Container::Sparse => "sparse-extent",
        Container::Descriptor => "descriptor",
        Container::Ova(_) => "ova",
    };
    let path = |i: usize| l.files.get(i).map(|f| f.path().display().to_string());
    let extents = l
        .pieces
        .iter()
        .map(|p| {
            let line = p.line.as_ref();
            ExtentInfo {
                start: p.start,
                size: p.len,
                access: line.map(|x| x.access.clone()),
                kind: line.map_or_else(|| "SPARSE".to_string(), |x| x.kind.clone()),
                file: match &p.data {
                    Data::Zero => None,
                    Data::Flat { file, .. } => path(*file),
                    Data::Sparse(x) => path(x.win.file),
                },
                offset: match &p.data {
                    Data::Flat { offset, .. } => *offset,
                    _ => line.map_or(0, |x| x.offset * 512),
                },
                sparse: match &p.data {
                    Data::Sparse(x) => Some(sparse_info(x)),
                    _ => None,
                },
            }
        })
        .collect();
    VmdkInfo {
        container,
        create_type: l.descriptor.as_ref().map(|d| d.create_type.clone()),
        descriptor: l
            .descriptor
            .as_ref()
            .zip(l.descriptor_at)
            .map(|(d, at)| descriptor_info(d, at)),
        extents,
        ova: match &l.container {
            Container::Ova(ova) => Some(OvaInfo {
                member: ova.disk.name.clone(),
                member_offset: ova.disk.offset,
                member_size: ova.disk.size,
                ovf: ova.ovf.as_ref().map(|m| m.name.clone()),
                disks: ova.disks.clone(),
                ovf_files: ova.ovf_files.clone(),
            }),
            _ => None,
        },
        parent: None,
        chain: None,
    }
}

fn descriptor_info(d: &Descriptor, (offset, size): (u64, u64)) -> DescriptorInfo {
    let num = |k: &str| d.ddb(k).and_then(|v| v.trim().parse::<u64>().ok());
    let text = |k: &str| d.ddb(k).map(str::to_string);
    DescriptorInfo {
        offset,
        size,
        version: d.version.clone(),
        cid: d.cid.map(cid),
        parent_cid: d.parent_cid.map(cid),
        has_parent: d.has_parent(),
        parent_file_name_hint: d.parent_hint.clone(),
        encoding: d.encoding.clone(),
        geometry: GeometryInfo {
            cylinders: num("ddb.geometry.cylinders"),
            heads: num("ddb.geometry.heads"),
            sectors: num("ddb.geometry.sectors"),
        },
        adapter_type: text("ddb.adapterType"),
        virtual_hw_version: text("ddb.virtualHWVersion"),
        uuid: text("ddb.uuid.image").or(text("ddb.uuid")),
        ddb: d.ddb.iter().cloned().collect(),
        other: d.other.iter().cloned().collect(),
    }
}

fn header_info(h: &SparseHeader, at: u64) -> HeaderInfo {
    HeaderInfo {
        offset: at,
        magic: String::from_utf8_lossy(&h.magic).into_owned(),
        version: h.version,
        flags: format!("{:#010x}", h.flags),
        flag_names: h.flag_names(),
        capacity: h.capacity,
        grain_size: h.grain_size,
        descriptor_offset: h.descriptor_offset,
        descriptor_size: h.descriptor_size,
        num_gtes_per_gt: h.num_gtes_per_gt,
        rgd_offset: h.rgd_offset,
        gd_offset: if h.gd_offset == GD_AT_END {
            GdOffset::AtEnd("GD_AT_END")
        } else {
            GdOffset::Sector(h.gd_offset)
        },
        overhead: h.overhead,
        unclean_shutdown: h.unclean_shutdown != 0,
        compress_algorithm: match h.compress_algorithm {
            0 => "none".to_string(),
            1 => "deflate".to_string(),
            n => n.to_string(),
        },
    }
}

fn sparse_info(x: &SparseExtent) -> SparseInfo {
    let (allocated_grains, zeroed_grains) = x.grain_counts();
    SparseInfo {
        header: header_info(&x.header, x.win.at(x.header_at)),
        header_source: if x.first_header.is_some() {
            "footer"
        } else {
            "start"
        },
        first_header: x.first_header.as_ref().map(|f| header_info(f, x.win.at(0))),
        grain_bytes: x.grain_bytes,
        gd_entries: x.gd.len(),
        grain_tables: x.tables_loaded(),
        grains: x.grains(),
        allocated_grains,
        zeroed_grains,
    }
}

impl Details for VmdkInfo {
    fn key(&self) -> &'static str {
        "vmdk"
    }

    fn text(&self) -> String {
        let mut out = String::new();
        if let Some(d) = &self.descriptor {
            out.push_str(&self.descriptor_text(d));
        }
        if let Some(o) = &self.ova {
            let mut t = Table::default();
            t.row(
                "disk member",
                format!(
                    "{} at offset {} ({} bytes)",
                    quoted(&o.member),
                    o.member_offset,
                    o.member_size
                ),
            );
            t.row("OVF", or_dash(o.ovf.as_ref()));
            // The names as a JSON array, as they are in the document.
            t.row(
                "disks in the archive",
                serde_json::to_string(&o.disks).unwrap_or_default(),
            );
            out.push_str("OVA:\n");
            out.push_str(&t.render(4));
        }
        for (i, e) in self.extents.iter().enumerate() {
            out.push_str(&format!("VMDK extent {i}:\n"));
            out.push_str(&e.text());
        }
        if let Some(chain) = &self.chain {
            out.push_str(&chain_text(chain.iter().map(|l| ChainLine {
                file: &l.file,
                kind: or_dash(l.create_type.as_ref()),
                id: ("CID", or_dash(l.cid.as_ref())),
                allocated: l.allocated_bytes,
                found_via: None,
            })));
        }
        out
    }
}

impl VmdkInfo {
    fn descriptor_text(&self, d: &DescriptorInfo) -> String {
        let mut t = Table::default();
        t.row("create type", or_dash(self.create_type.as_ref()));
        t.row("container", self.container.into());
        t.row("at", format!("offset {} ({} bytes)", d.offset, d.size));
        t.row("version", or_dash(d.version.as_ref()));
        t.row("CID", or_dash(d.cid.as_ref()));
        t.row("parent CID", or_dash(d.parent_cid.as_ref()));
        if let Some(h) = &d.parent_file_name_hint {
            t.row("parent file name hint", quoted(h));
        }
        let g = &d.geometry;
        t.row(
            "geometry (C/H/S)",
            format!(
                "{}/{}/{}",
                or_dash(g.cylinders),
                or_dash(g.heads),
                or_dash(g.sectors)
            ),
        );
        t.row("adapter type", or_dash(d.adapter_type.as_ref()));
        t.row("virtual HW version", or_dash(d.virtual_hw_version.as_ref()));
        for (k, x) in &d.ddb {
            if !k.starts_with("ddb.geometry.")
                && k != "ddb.adapterType"
                && k != "ddb.virtualHWVersion"
            {
                t.row(k, x.clone());
            }
        }
        for (k, x) in &d.other {
            t.row(k, x.clone());
        }
        format!("VMDK descriptor:\n{}", t.render(4))
    }
}

impl ExtentInfo {
    fn text(&self) -> String {
        let mut t = Table::default();
        t.row(
            "extent",
            format!(
                "{} {} at {} ({}), {}",
                or_dash(self.access.as_ref()),
                self.kind,
                self.start,
                size_both(self.size),
                self.file
                    .as_ref()
                    .map(|f| format!("file {f} offset {}", self.offset))
                    .unwrap_or_else(|| "no file".into())
            ),
        );
        if let Some(x) = &self.sparse {
            let h = &x.header;
            t.row(
                "header",
                format!(
                    "version {} at offset {} (from the {}), flags {} ({})",
                    h.version,
                    h.offset,
                    x.header_source,
                    h.flags,
                    h.flag_names.join(", ")
                ),
            );
            t.row("capacity", format!("{} sectors", h.capacity));
            t.row(
                "grain size",
                format!("{} sectors ({} bytes)", h.grain_size, x.grain_bytes),
            );
            let gd = match h.gd_offset {
                GdOffset::AtEnd(s) => s.to_string(),
                GdOffset::Sector(n) => n.to_string(),
            };
            t.row(
                "grain directory",
                format!(
                    "sector {gd}, {} entries, {} tables of {} entries; redundant at sector {}",
                    x.gd_entries, x.grain_tables, h.num_gtes_per_gt, h.rgd_offset
                ),
            );
            t.row(
                "grains",
                format!(
                    "{} allocated, {} zeroed, of {}",
                    x.allocated_grains, x.zeroed_grains, x.grains
                ),
            );
            t.row(
                "embedded descriptor",
                format!(
                    "sector {} ({} sectors)",
                    h.descriptor_offset, h.descriptor_size
                ),
            );
            t.row("overhead", format!("{} sectors", h.overhead));
            t.row("compression", h.compress_algorithm.clone());
            t.row(
                "unclean shutdown",
                if h.unclean_shutdown { "YES" } else { "no" }.into(),
            );
        }
        t.render(4)
    }
}
