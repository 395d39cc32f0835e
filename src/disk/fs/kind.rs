//! The kinds of file system (and volume) the probes recognise. The kind's name is its
//! serialized form in `inspect --json` and the text report (docs/json.md), unchanged from
//! when it was a string.

/// A file-system kind, from its superblock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FsKind {
    Ext2,
    Ext3,
    Ext4,
    Xfs,
    Btrfs,
    Ntfs,
    Fat12,
    Fat16,
    Fat32,
    Swap,
    /// An LVM2 physical volume: a volume layer, read by `disk::lvm`, not a file system.
    Lvm2Pv,
}

impl FsKind {
    /// The name in reports: ext2, ext3, ext4, xfs, btrfs, ntfs, fat12, fat16, fat32, swap,
    /// lvm2_pv.
    pub fn name(self) -> &'static str {
        match self {
            FsKind::Ext2 => "ext2",
            FsKind::Ext3 => "ext3",
            FsKind::Ext4 => "ext4",
            FsKind::Xfs => "xfs",
            FsKind::Btrfs => "btrfs",
            FsKind::Ntfs => "ntfs",
            FsKind::Fat12 => "fat12",
            FsKind::Fat16 => "fat16",
            FsKind::Fat32 => "fat32",
            FsKind::Swap => "swap",
            FsKind::Lvm2Pv => "lvm2_pv",
        }
    }

    pub fn is_ext(self) -> bool {
        matches!(self, FsKind::Ext2 | FsKind::Ext3 | FsKind::Ext4)
    }

    pub fn is_fat(self) -> bool {
        matches!(self, FsKind::Fat12 | FsKind::Fat16 | FsKind::Fat32)
    }

    /// Whether guest inspection can open it and read its files (Btrfs is identified only).
    pub fn is_readable(self) -> bool {
        self.is_ext() || self.is_fat() || matches!(self, FsKind::Ntfs | FsKind::Xfs)
    }
}

impl std::fmt::Display for FsKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl serde::Serialize for FsKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::FsKind;

    #[test]
    fn serialized_as_its_name() {
        for k in [FsKind::Ext4, FsKind::Lvm2Pv, FsKind::Fat32] {
            assert_eq!(serde_json::to_value(k).unwrap(), k.name());
            assert_eq!(k.to_string(), k.name());
        }
        assert!(FsKind::Xfs.is_readable() && !FsKind::Btrfs.is_readable());
    }
}
