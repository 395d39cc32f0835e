//! What the guest showed: its root (Linux or Windows), os-release, the machine of its
//! binaries, the Windows version, the EFI loaders; each with its evidence.

use super::machine::Machine;

/// A machine and the file that says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchFact {
    pub arch: Machine,
    pub evidence: String,
}

/// Which kind of system root was found (libguestfs' tests): what the disk shows, named as
/// the kernel and JSON name it (`linux`, `windows`); the import plan maps it to OSType.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OsFamily {
    #[default]
    Linux,
    Windows,
}

impl OsFamily {
    pub fn as_str(self) -> &'static str {
        match self {
            OsFamily::Linux => "linux",
            OsFamily::Windows => "windows",
        }
    }
}

impl std::fmt::Display for OsFamily {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for OsFamily {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OsFacts {
    pub os_type: OsFamily,
    /// Partition number of the root file system; `None` for a whole-disk file system.
    pub partition: Option<u32>,
    /// `vg/lv` when the root file system is in an LVM2 logical volume.
    pub lv: Option<String>,
    /// Windows only: the version values from the SOFTWARE hive.
    pub windows: Option<WindowsVersion>,
    /// os-release ID (or the equivalent from another release file), lower case.
    pub id: Option<String>,
    pub version_id: Option<String>,
    pub pretty_name: Option<String>,
    /// os-release NAME, VERSION and VARIANT_ID: needed to tell CentOS Stream and Fedora
    /// CoreOS apart from their siblings.
    pub name: Option<String>,
    pub version: Option<String>,
    pub variant_id: Option<String>,
    /// The file the distribution facts came from.
    pub release_file: Option<String>,
    pub arch: Option<ArchFact>,
    /// Why `arch` is unknown.
    pub arch_reason: Option<String>,
}

/// `HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion`, as far as it was readable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WindowsVersion {
    pub product_name: Option<String>,
    pub current_build: Option<String>,
    pub installation_type: Option<String>,
    pub edition_id: Option<String>,
}

/// An EFI loader found on an EFI System Partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EfiLoader {
    pub partition: Option<u32>,
    pub path: String,
    pub arch: Option<Machine>,
}
