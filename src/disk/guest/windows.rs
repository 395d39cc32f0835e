//! A Windows root: `System32/config` and `cmd.exe`, the machine of `cmd.exe`'s PE header, and
//! the version values of the SOFTWARE hive (read through `regf.rs`).

use super::facts::{ArchFact, OsFacts, OsFamily, WindowsVersion};
use super::machine::Machine;
use crate::bytes::Fixed;
use crate::disk::guestfs::{GuestFs, NodeKind};
use crate::disk::regf;

/// PE headers: e_lfanew is usually < 512; refuse headers placed further than this.
pub const PE_HEAD: usize = 64 << 10;

pub const WINDOWS_CMD: &str = "/Windows/System32/cmd.exe";
pub const WINDOWS_CONFIG: &str = "/Windows/System32/config";

/// A Windows system root: `Windows/System32/config` and `Windows/System32/cmd.exe`. The
/// file systems that hold Windows look names up case-insensitively.
pub fn windows_facts(fs: &mut dyn GuestFs, warnings: &mut Vec<String>) -> Option<OsFacts> {
    if fs.kind(WINDOWS_CONFIG) != Some(NodeKind::Dir)
        || fs.kind(WINDOWS_CMD) != Some(NodeKind::File)
    {
        return None;
    }
    let mut os = OsFacts {
        os_type: OsFamily::Windows,
        ..OsFacts::default()
    };
    match fs
        .read_head(WINDOWS_CMD, PE_HEAD)
        .ok_or_else(|| "unreadable".to_string())
        .and_then(|h| pe_arch(&h))
    {
        Ok(arch) => {
            os.arch = Some(ArchFact {
                arch,
                evidence: format!("PE header of {WINDOWS_CMD}"),
            })
        }
        Err(e) => os.arch_reason = Some(format!("{WINDOWS_CMD}: {e}")),
    }
    os.windows = windows_version(fs, warnings);
    if let Some(v) = &os.windows {
        os.id = Some("windows".into());
        os.pretty_name.clone_from(&v.product_name);
        os.version_id.clone_from(&v.current_build);
        os.release_file = Some(format!("{WINDOWS_SOFTWARE} ({CURRENT_VERSION})"));
    }
    Some(os)
}

pub const WINDOWS_SOFTWARE: &str = "/Windows/System32/config/SOFTWARE";
pub const CURRENT_VERSION: &str = "Microsoft\\Windows NT\\CurrentVersion";

/// The version values of the SOFTWARE hive; `None` (with a warning if the hive is there but
/// unreadable) when none could be read.
fn windows_version(fs: &mut dyn GuestFs, warnings: &mut Vec<String>) -> Option<WindowsVersion> {
    if fs.kind(WINDOWS_SOFTWARE) != Some(NodeKind::File) {
        return None;
    }
    let mut hive = match regf::Hive::open(regf::GuestHive::new(fs, WINDOWS_SOFTWARE)) {
        Ok(h) => h,
        Err(e) => {
            warnings.push(format!("{WINDOWS_SOFTWARE}: {e}"));
            return None;
        }
    };
    let mut get = |name: &str| match hive.value(CURRENT_VERSION, name) {
        Ok(v) => v.and_then(|v| v.as_string()),
        Err(e) => {
            warnings.push(format!(
                "{WINDOWS_SOFTWARE}: {CURRENT_VERSION}\\{name}: {e}"
            ));
            None
        }
    };
    let v = WindowsVersion {
        product_name: get("ProductName"),
        current_build: get("CurrentBuildNumber"),
        installation_type: get("InstallationType"),
        edition_id: get("EditionID"),
    };
    (v != WindowsVersion::default()).then_some(v)
}

/// The DOS header: `MZ`, ..., e_lfanew (the PE header's offset) at 0x3C.
const DOS_HEADER_LEN: usize = 0x40;
const E_LFANEW: usize = 0x3C;
/// The COFF machine, after the 4-byte `PE\0\0` signature.
const PE_MACHINE: usize = 4;

/// The machine field of a PE file: `MZ`, e_lfanew at 0x3C, `PE\0\0`, then the machine.
pub fn pe_arch(head: &[u8]) -> Result<Machine, String> {
    let Some(dos) = head.first_chunk::<DOS_HEADER_LEN>().map(Fixed) else {
        return Err("not a PE file (no MZ)".into());
    };
    if &dos.array::<0, 2>() != b"MZ" {
        return Err("not a PE file (no MZ)".into());
    }
    let lfanew = dos.le_u32::<E_LFANEW>();
    let past = || {
        format!(
            "e_lfanew {lfanew:#x} at 0x3c points past the {} bytes read",
            head.len()
        )
    };
    let at = usize::try_from(lfanew).map_err(|_| "e_lfanew too large".to_string())?;
    // The signature and the machine after it, read together so both must be there.
    let pe = crate::bytes::Bytes::new(head, 0, "PE header")
        .array::<6>(at, "signature and machine")
        .map_err(|_| past())?;
    let pe = Fixed(&pe);
    if &pe.array::<0, 4>() != b"PE\0\0" {
        return Err(format!("no PE signature at {lfanew:#x}"));
    }
    Ok(Machine::from_pe(pe.le_u16::<PE_MACHINE>()))
}
