//! EFI loaders on an EFI System Partition, each with the machine of its PE header.

use super::facts::EfiLoader;
use super::windows::{PE_HEAD, pe_arch};
use crate::disk::guestfs::{GuestFs, NodeKind};

const MAX_DIR_ENTRIES: usize = 64;

/// The removable-media loaders UEFI firmware looks for, by architecture.
pub const EFI_FALLBACK_LOADERS: &[&str] = &[
    "/EFI/BOOT/BOOTX64.EFI",
    "/EFI/BOOT/BOOTAA64.EFI",
    "/EFI/BOOT/BOOTIA32.EFI",
];
/// Loaders distributions install in `EFI/<distro>/`.
pub const EFI_DISTRO_LOADERS: &[&str] = &[
    "shimx64.efi",
    "grubx64.efi",
    "shimaa64.efi",
    "grubaa64.efi",
    "grubia32.efi",
];

/// EFI loaders on a FAT file system, each with the machine of its PE header.
pub fn efi_loaders(fs: &mut dyn GuestFs, partition: Option<u32>) -> Vec<EfiLoader> {
    let mut paths: Vec<String> = EFI_FALLBACK_LOADERS.iter().map(|s| s.to_string()).collect();
    for dir in fs.list_dir("/EFI", MAX_DIR_ENTRIES) {
        if dir.eq_ignore_ascii_case("BOOT") {
            continue;
        }
        paths.extend(EFI_DISTRO_LOADERS.iter().map(|l| format!("/EFI/{dir}/{l}")));
    }
    let mut out = Vec::new();
    for path in paths {
        if fs.kind(&path) != Some(NodeKind::File) {
            continue;
        }
        let arch = fs.read_head(&path, PE_HEAD).and_then(|h| pe_arch(&h).ok());
        out.push(EfiLoader {
            partition,
            path,
            arch,
        });
    }
    out
}
