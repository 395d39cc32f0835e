//! What is inside the file systems: which OS, which architecture, how it boots. Read through
//! `ext4-view`, `fatfs`, `ntfs` and our own XFS reader (`xfs.rs`) over a [`Slice`], the way
//! libguestfs decides (see docs/disk-formats.md); the Windows version through `regf.rs`.
//! Every read is capped and every file system has a read budget; symlinks are resolved
//! inside the guest only.

mod efi;
mod facts;
mod linux;
mod machine;
mod open;
mod resolve;
mod windows;

pub use crate::disk::guestfs::{GuestFs, MAX_TEXT, NodeKind};
pub use efi::{EFI_DISTRO_LOADERS, EFI_FALLBACK_LOADERS, efi_loaders};
pub use facts::{ArchFact, EfiLoader, OsFacts, OsFamily, WindowsVersion};
pub use linux::{ARCH_WITNESSES, elf_arch, is_linux_root, linux_facts, parse_key_values};
pub use machine::Machine;
pub use open::{FS_READ_BUDGET, MAX_RANGE, with_guest_fs, with_guest_fs_budget};
pub use resolve::{MAX_SYMLINKS, resolve};
pub use windows::{
    CURRENT_VERSION, WINDOWS_CMD, WINDOWS_CONFIG, WINDOWS_SOFTWARE, pe_arch, windows_facts,
};

#[cfg(test)]
mod tests {
    use super::linux::{linux_arch, read_release};
    use super::*;
    use std::collections::HashMap;

    /// An in-memory guest: files, dirs and symlinks by absolute path.
    #[derive(Default)]
    struct MemFs {
        files: HashMap<String, Vec<u8>>,
        links: HashMap<String, String>,
        dirs: Vec<String>,
    }
    impl GuestFs for MemFs {
        fn kind(&mut self, p: &str) -> Option<NodeKind> {
            if self.links.contains_key(p) {
                Some(NodeKind::Symlink)
            } else if self.files.contains_key(p) {
                Some(NodeKind::File)
            } else if p == "/" || self.dirs.iter().any(|d| d == p) {
                Some(NodeKind::Dir)
            } else {
                None
            }
        }
        fn read_link(&mut self, p: &str) -> Option<String> {
            self.links.get(p).cloned()
        }
        fn read_head(&mut self, p: &str, max: usize) -> Option<Vec<u8>> {
            self.files.get(p).map(|b| b[..b.len().min(max)].to_vec())
        }
    }

    fn elf(machine: u16) -> Vec<u8> {
        let mut h = vec![0u8; 64];
        h[0..4].copy_from_slice(b"\x7fELF");
        h[4] = 2; // ELFCLASS64
        h[5] = 1; // little-endian
        h[18..20].copy_from_slice(&machine.to_le_bytes());
        h
    }

    #[test]
    fn absolute_symlinks_stay_inside_the_guest() {
        let mut fs = MemFs {
            dirs: vec!["/usr".into(), "/usr/bin".into()],
            ..MemFs::default()
        };
        fs.links.insert("/bin".into(), "/usr/bin".into());
        fs.links
            .insert("/usr/bin/sh".into(), "../../../../bin/dash".into());
        fs.files.insert("/usr/bin/dash".into(), elf(183));
        assert_eq!(resolve(&mut fs, "/bin/sh").unwrap(), "/usr/bin/dash");
        let mut w = Vec::new();
        assert_eq!(linux_arch(&mut fs, &mut w).unwrap().arch, Machine::Arm64);
    }

    #[test]
    fn symlink_loop_is_an_error_not_a_hang() {
        let mut fs = MemFs::default();
        fs.links.insert("/a".into(), "/b".into());
        fs.links.insert("/b".into(), "a".into());
        assert!(resolve(&mut fs, "/a/x").unwrap_err().contains("symlinks"));
    }

    #[test]
    fn os_release_quotes_and_comments() {
        let kv =
            parse_key_values("# c\nID=\"centos\"\nNAME='CentOS Stream'\nX=a\\\"b\nY=\"q\\\"z\"\n");
        assert_eq!(kv[0], ("ID".into(), "centos".into()));
        assert_eq!(kv[1].1, "CentOS Stream");
        assert_eq!(kv[3].1, "q\"z");
    }

    #[test]
    fn os_release_first_then_lsb_release() {
        let mut fs = MemFs::default();
        fs.files.insert(
            "/etc/lsb-release".into(),
            b"DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=22.04\nDISTRIB_DESCRIPTION=\"Ubuntu 22.04.4 LTS\"\n"
                .to_vec(),
        );
        fs.files.insert(
            "/etc/redhat-release".into(),
            b"CentOS Linux release 7.9.2009 (Core)\n".to_vec(),
        );
        let mut os = OsFacts::default();
        read_release(&mut fs, &mut os, &mut Vec::new());
        assert_eq!(os.id.as_deref(), Some("ubuntu"));
        assert_eq!(os.version_id.as_deref(), Some("22.04"));
        assert_eq!(os.pretty_name.as_deref(), Some("Ubuntu 22.04.4 LTS"));
        assert_eq!(os.release_file.as_deref(), Some("/etc/lsb-release"));
        // An os-release without ID is passed over; one with it wins over lsb-release.
        fs.files
            .insert("/etc/os-release".into(), b"NAME=nothing\n".to_vec());
        fs.files.insert(
            "/usr/lib/os-release".into(),
            b"ID=Debian\nVERSION_ID=\"12\"\nVARIANT_ID=cloud\n".to_vec(),
        );
        let mut os = OsFacts::default();
        read_release(&mut fs, &mut os, &mut Vec::new());
        assert_eq!(os.id.as_deref(), Some("debian"));
        assert_eq!(os.version_id.as_deref(), Some("12"));
        assert_eq!(os.variant_id.as_deref(), Some("cloud"));
        assert_eq!(os.pretty_name, None);
        assert_eq!(os.release_file.as_deref(), Some("/usr/lib/os-release"));
    }

    #[test]
    fn release_files_when_there_is_no_os_release() {
        let mut fs = MemFs::default();
        fs.files.insert(
            "/etc/redhat-release".into(),
            b"CentOS Linux release 7.9.2009 (Core)\n".to_vec(),
        );
        let mut os = OsFacts::default();
        read_release(&mut fs, &mut os, &mut Vec::new());
        assert_eq!(os.id.as_deref(), Some("centos"));
        assert_eq!(os.version_id.as_deref(), Some("7.9.2009"));
    }

    #[test]
    fn elf_and_pe_machines() {
        assert_eq!(elf_arch(&elf(62)).unwrap(), Machine::X86_64);
        let mut be = elf(0);
        be[5] = 2;
        be[18..20].copy_from_slice(&40u16.to_be_bytes());
        assert_eq!(elf_arch(&be).unwrap(), Machine::Arm);
        assert!(elf_arch(b"\x7fELF").is_err());
        let mut pe = vec![0u8; 0x100];
        pe[0..2].copy_from_slice(b"MZ");
        pe[0x3C] = 0x80;
        pe[0x80..0x84].copy_from_slice(b"PE\0\0");
        pe[0x84..0x86].copy_from_slice(&0xAA64u16.to_le_bytes());
        assert_eq!(pe_arch(&pe).unwrap(), Machine::Arm64);
        pe[0x3C..0x40].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(pe_arch(&pe).is_err());
    }
}
