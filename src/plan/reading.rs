//! What the import makes of what the disk showed: the guest's os-release ID, ELF/PE machines,
//! EFI loaders and BIOS boot code become ImportImage's Architecture, OSType, Platform and
//! BootMode, and the smallest disk that holds everything becomes DiskImageSize. The one
//! mapping from the disk's facts to the API's values; `disk/` itself has no cloud words.

use super::size::gib_holding;
use super::vocab::{Architecture, BootMode, Detected, OsType, Platform};
use crate::disk::guest::{EfiLoader, Machine, OsFacts, OsFamily, WindowsVersion};
use crate::disk::report::{os_place, os_root_evidence, where_is};
use crate::disk::{DiskReport, Fact, ImportFacts, Seen};
use crate::image::VirtualDisk;

/// Everything imgtool can tell from the contents of `disk`, read for ImportImage.
pub fn inspect_disk(disk: &dyn VirtualDisk) -> DiskReport {
    inspect(disk).0
}

/// [`inspect_disk`] and the typed values its import facts show.
pub fn inspect(disk: &dyn VirtualDisk) -> (DiskReport, GuestFacts) {
    crate::disk::inspect_disk(disk, |seen, warnings| {
        let g = guest_facts(seen, warnings);
        (g.shown(seen), g)
    })
}

/// What the import reads in what the disk showed, in the API's values, each with its evidence
/// or why it is unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestFacts {
    pub architecture: Fact<Architecture>,
    pub os_type: Fact<OsType>,
    pub platform: Fact<Platform>,
    pub boot_mode: Fact<BootMode>,
    /// Why the import docs require cloud-init of this guest ([`cloud_init_required`]).
    pub cloud_init_required: Option<String>,
    /// The root's machine when ImportImage does not list it (`riscv64`), with its evidence:
    /// unknown to the report, but a witness the plan must not import as the default.
    pub unlisted_machine: Option<Fact<String>>,
}

/// The typed import facts of what was seen; contradictions go to `warnings`.
pub fn guest_facts(seen: &Seen<'_>, warnings: &mut Vec<String>) -> GuestFacts {
    let architecture = architecture(seen.os, seen.efi_loaders);
    let boot_mode = boot_mode(
        architecture.value,
        seen.efi_loaders,
        seen.bios_boot,
        warnings,
    );
    let platform = match seen.os {
        Some(o) => platform(o),
        None => Fact::unknown("no operating system found"),
    };
    let unlisted_machine = seen.os.and_then(|o| {
        let a = o.arch.as_ref()?;
        listed(a.arch).is_none().then(|| {
            Fact::known(
                a.arch.to_string(),
                format!("{} on {}", a.evidence, os_place(o)),
            )
        })
    });
    GuestFacts {
        unlisted_machine,
        cloud_init_required: cloud_init_required(architecture.value, platform.value),
        architecture,
        os_type: match seen.os {
            Some(o) => Fact::known(os_type(o.os_type), os_root_evidence(o)),
            None => Fact::unknown("no Linux or Windows root file system found"),
        },
        platform,
        boot_mode,
    }
}

impl GuestFacts {
    /// The machine as the plan reads it: the API's, else the root's unlisted machine (which
    /// the plan refuses without `--architecture` and `--force`), else unknown.
    pub fn architecture_seen(&self) -> Fact<Detected<Architecture>> {
        match (&self.architecture.value, &self.unlisted_machine) {
            (None, Some(m)) => m.clone().map(Detected::Other),
            _ => self.architecture.clone().map(Detected::Api),
        }
    }

    /// The import facts as the disk report shows them: each value by its API name, and the
    /// smallest disk `seen` in bytes and whole GiB.
    pub fn shown(&self, seen: &Seen<'_>) -> ImportFacts {
        let min_disk_bytes = seen.min_disk.value.unwrap_or(0);
        ImportFacts {
            format: Fact::unknown("set by the image layer"),
            architecture: named(&self.architecture),
            machine: self.architecture.value.map(machine),
            os_type: named(&self.os_type),
            platform: named(&self.platform),
            boot_mode: named(&self.boot_mode),
            min_disk_bytes,
            min_disk_evidence: seen.min_disk.because.clone(),
            min_disk_image_size_gib: gib_holding(min_disk_bytes),
            cloud_init_required: self.cloud_init_required.clone(),
        }
    }
}

/// Platforms whose import docs require cloud-init, CONFIG_FW_CFG_SYSFS and growpart, as
/// they are for every arm64 image.
const CLOUD_INIT_REQUIRED: &[Platform] = &[
    Platform::CentOsStream,
    Platform::Anolis,
    Platform::AlmaLinux,
    Platform::Uos,
    Platform::Kylin,
    Platform::RockyLinux,
];

/// Why the import docs require cloud-init of this guest, or `None` where they only
/// recommend it.
pub fn cloud_init_required(
    arch: Option<Architecture>,
    platform: Option<Platform>,
) -> Option<String> {
    if arch == Some(Architecture::Arm64) {
        return Some("arm64 images".into());
    }
    platform
        .filter(|p| CLOUD_INIT_REQUIRED.contains(p))
        .map(|p| format!("{p} images"))
}

/// A typed fact as the report shows it: the API name.
fn named<T: std::fmt::Display>(f: &Fact<T>) -> Fact {
    Fact {
        value: f.value.as_ref().map(ToString::to_string),
        because: f.because.clone(),
    }
}

/// The OSType of a system root.
pub fn os_type(family: OsFamily) -> OsType {
    match family {
        OsFamily::Linux => OsType::Linux,
        OsFamily::Windows => OsType::Windows,
    }
}

/// The Architecture ImportImage names a machine by; `None` for a machine it does not list.
pub fn listed(m: Machine) -> Option<Architecture> {
    match m {
        Machine::I386 => Some(Architecture::I386),
        Machine::X86_64 => Some(Architecture::X86_64),
        Machine::Arm64 => Some(Architecture::Arm64),
        Machine::Arm
        | Machine::Riscv64
        | Machine::Riscv32
        | Machine::UnknownElf(_)
        | Machine::UnknownPe(_) => None,
    }
}

/// The machine an Architecture is.
pub fn machine(a: Architecture) -> Machine {
    match a {
        Architecture::I386 => Machine::I386,
        Architecture::X86_64 => Machine::X86_64,
        Architecture::Arm64 => Machine::Arm64,
    }
}

/// The machine of the root's binaries, else of an EFI loader; a machine ImportImage does not
/// take is unknown, with the reason.
fn architecture(os: Option<&OsFacts>, loaders: &[EfiLoader]) -> Fact<Architecture> {
    if let Some(a) = os.and_then(|o| o.arch.as_ref()) {
        if let Some(arch) = listed(a.arch) {
            return Fact::known(
                arch,
                format!(
                    "{} on {}",
                    a.evidence,
                    os.map_or_else(|| where_is(None), os_place)
                ),
            );
        }
        return Fact::unknown(format!(
            "the guest is {} ({}); ImportImage accepts only i386, x86_64, arm64",
            a.arch, a.evidence
        ));
    }
    // No userland witness: an EFI loader is still a witness of the machine the disk boots on.
    if let Some((l, arch)) = loaders
        .iter()
        .find_map(|l| l.arch.and_then(listed).map(|a| (l, a)))
    {
        return Fact::known(
            arch,
            format!(
                "PE header of EFI loader {} on {} (no OS binary read)",
                l.path,
                where_is(l.partition)
            ),
        );
    }
    match os {
        Some(o) => Fact::unknown(
            o.arch_reason
                .clone()
                .unwrap_or_else(|| "no binary read".into()),
        ),
        None => Fact::unknown("no operating system root and no EFI loader found"),
    }
}

fn boot_mode(
    arch: Option<Architecture>,
    loaders: &[EfiLoader],
    bios: &[String],
    warnings: &mut Vec<String>,
) -> Fact<BootMode> {
    let uefi: Vec<String> = loaders
        .iter()
        .map(|l| format!("{} on {}", l.path, where_is(l.partition)))
        .collect();
    let arm64 = arch == Some(Architecture::Arm64);
    match (uefi.is_empty(), bios.is_empty()) {
        (false, true) => Fact::known(BootMode::Uefi, format!("EFI loader {}", uefi.join(", "))),
        (true, false) => {
            if arm64 {
                warnings.push("contradiction: arm64 guest with only BIOS boot evidence; ECS boots arm64 by UEFI only".into());
            }
            Fact::known(BootMode::Bios, bios.join(", "))
        }
        (false, false) => {
            // The disk boots either way; arm64 allows only UEFI, otherwise BIOS is the API's
            // default. Both witnesses are listed so the user can choose otherwise.
            let pick = arch.map_or(BootMode::Bios, Architecture::default_boot_mode);
            Fact::known(
                pick,
                format!(
                    "both: UEFI ({}) and BIOS ({}); {pick} chosen as the {}",
                    uefi.join(", "),
                    bios.join(", "),
                    if pick == BootMode::Uefi {
                        "only mode arm64 allows"
                    } else {
                        "API default"
                    }
                ),
            )
        }
        (true, true) => Fact::unknown(
            "no EFI loader on a FAT file system, no MBR boot code, no BIOS boot partition",
        ),
    }
}

/// Map os-release facts to the API's Platform names (docs/aliyun-import.md section 2).
pub fn platform(o: &OsFacts) -> Fact<Platform> {
    if o.os_type == OsFamily::Windows {
        return windows_platform(o.windows.as_ref());
    }
    let Some(id) = o.id.as_deref() else {
        return Fact::known(
            Platform::OthersLinux,
            "Linux root without a readable os-release, lsb-release or release file",
        );
    };
    let src = o.release_file.as_deref().unwrap_or("release file");
    let stream = [&o.name, &o.version, &o.pretty_name]
        .iter()
        .any(|s| s.as_deref().is_some_and(|s| s.contains("Stream")));
    let name = match id {
        "centos" if stream => Platform::CentOsStream,
        "centos" => Platform::CentOs,
        "rhel" => Platform::RedHat,
        "sles" | "sled" | "sles_sap" => Platform::Suse,
        i if i.starts_with("opensuse") => Platform::OpenSuse,
        "alinux" => Platform::Aliyun,
        "anolis" => Platform::Anolis,
        "ubuntu" => Platform::Ubuntu,
        "debian" => Platform::Debian,
        "fedora" if o.variant_id.as_deref() == Some("coreos") => Platform::FedoraCoreOs,
        "fedora-coreos" => Platform::FedoraCoreOs,
        "fedora" => Platform::Fedora,
        // Container Linux (the original CoreOS) says ID=coreos; the API names it CoreOS.
        "coreos" => Platform::CoreOs,
        "rocky" => Platform::RockyLinux,
        "almalinux" => Platform::AlmaLinux,
        "kylin" => Platform::Kylin,
        "uos" => Platform::Uos,
        "gentoo" => Platform::Gentoo,
        "freebsd" => Platform::FreeBsd,
        _ => {
            return Fact::known(
                Platform::OthersLinux,
                format!("ID={id} in {src} has no Platform of its own"),
            );
        }
    };
    Fact::known(name, format!("ID={id} in {src}"))
}

/// Windows Server releases by CurrentBuildNumber (docs/aliyun-import.md's Platform names).
const SERVER_BUILDS: &[(&str, &str)] = &[
    ("20348", "2022"),
    ("17763", "2019"),
    ("14393", "2016"),
    ("9600", "2012"),
    ("9200", "2012"),
    ("7601", "2008"),
    ("7600", "2008"),
    ("6002", "2008"),
    ("6001", "2008"),
    ("3790", "2003"),
];
const SERVER_YEARS: &[&str] = &["2022", "2019", "2016", "2012", "2008", "2003"];
const NEWEST_SERVER: &str = "2022";

/// A server (InstallationType Server or Server Core, or "Server" in ProductName) of a year the
/// API names is `Windows Server <year>`. The current Platform list has no generic Windows
/// value (the old `Other Windows` is gone), so any other Windows (a client release, Server
/// 2025, a build we do not know) takes the closest listed value: the Windows Server whose
/// build is the newest at or below its own (Windows 10 -> 2019, Windows 11 and Server 2025 ->
/// 2022, Windows 7 -> 2008), and with no build at all the newest listed, 2022. The evidence
/// says so; `--platform` chooses otherwise.
fn windows_platform(v: Option<&WindowsVersion>) -> Fact<Platform> {
    let Some(v) = v else {
        return Fact::known(
            server_platform(NEWEST_SERVER),
            "Windows root found, but no version in its SOFTWARE hive: the newest listed \
             Windows Server (the Platform list has no generic Windows value)",
        );
    };
    let product = v.product_name.as_deref().unwrap_or("");
    let build = v.current_build.as_deref().unwrap_or("");
    let itype = v.installation_type.as_deref().unwrap_or("");
    let evidence = format!(
        "SOFTWARE hive, Microsoft\\Windows NT\\CurrentVersion: ProductName={product:?}, CurrentBuildNumber={build:?}, InstallationType={itype:?}"
    );
    let server = itype.starts_with("Server") || product.contains("Server");
    let by_name = SERVER_YEARS
        .iter()
        .find(|y| server && product.contains(*y))
        .copied();
    let by_build = SERVER_BUILDS
        .iter()
        .find(|(b, _)| server && *b == build)
        .map(|(_, y)| *y);
    if let Some(year) = by_name.or(by_build) {
        return Fact::known(server_platform(year), evidence);
    }
    let n: Option<u32> = build.trim().parse().ok();
    let year = n
        .and_then(|n| {
            SERVER_BUILDS
                .iter()
                .filter_map(|(b, y)| b.parse::<u32>().ok().map(|b| (b, *y)))
                .filter(|(b, _)| *b <= n)
                .max_by_key(|(b, _)| *b)
                .map(|(_, y)| y)
        })
        .unwrap_or(NEWEST_SERVER);
    Fact::known(
        server_platform(year),
        format!(
            "{evidence}: a release the Platform list has no name for; the closest listed \
             (the Windows Server of the newest build at or below this one)"
        ),
    )
}

/// `Windows Server <year>`, for a year of [`SERVER_YEARS`] (all of them are listed).
fn server_platform(year: &str) -> Platform {
    Platform::windows_server(year).unwrap_or(Platform::WindowsServer2022)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disk::guest::ArchFact;

    fn linux(id: &str, arch: Machine) -> OsFacts {
        OsFacts {
            os_type: OsFamily::Linux,
            partition: Some(2),
            id: Some(id.into()),
            release_file: Some("/etc/os-release".into()),
            arch: Some(ArchFact {
                arch,
                evidence: "ELF header of /bin/bash".into(),
            }),
            ..OsFacts::default()
        }
    }

    fn loader(arch: Machine) -> EfiLoader {
        EfiLoader {
            partition: Some(1),
            path: "/EFI/BOOT/BOOTX64.EFI".into(),
            arch: Some(arch),
        }
    }

    #[test]
    fn windows_platform_from_the_hive() {
        let v = |p: &str, b: &str, t: &str| WindowsVersion {
            product_name: Some(p.into()),
            current_build: Some(b.into()),
            installation_type: Some(t.into()),
            edition_id: None,
        };
        let p = |w: WindowsVersion| windows_platform(Some(&w)).value.unwrap().api_name();
        assert_eq!(
            p(v("Windows Server 2022 Standard", "20348", "Server")),
            "Windows Server 2022"
        );
        // No year in the name: the build number decides.
        assert_eq!(
            p(v("Windows Server Datacenter", "14393", "Server Core")),
            "Windows Server 2016"
        );
        assert_eq!(
            p(v("Windows Server 2008 R2 Enterprise", "7601", "Server")),
            "Windows Server 2008"
        );
        // The current list has no generic Windows: the closest listed server.
        assert_eq!(
            p(v("Windows 10 Pro", "19045", "Client")),
            "Windows Server 2019"
        );
        assert_eq!(
            p(v("Windows 11 Pro", "22631", "Client")),
            "Windows Server 2022"
        );
        assert_eq!(
            p(v("Windows 7 Ultimate", "7601", "Client")),
            "Windows Server 2008"
        );
        // Server 2025 has no Platform of its own.
        assert_eq!(
            p(v("Windows Server 2025 Datacenter", "26100", "Server")),
            "Windows Server 2022"
        );
        assert_eq!(
            windows_platform(None).value,
            Some(Platform::WindowsServer2022)
        );
    }

    #[test]
    fn platform_names_are_the_apis() {
        let cases = [
            ("centos", "CentOS"),
            ("rhel", "RedHat"),
            ("sles", "SUSE"),
            ("opensuse-leap", "OpenSUSE"),
            ("alinux", "Aliyun"),
            ("rocky", "Rocky Linux"),
            ("almalinux", "AlmaLinux"),
            ("fedora-coreos", "Fedora CoreOS"),
            ("arch", "Others Linux"),
        ];
        for (id, want) in cases {
            assert_eq!(
                platform(&linux(id, Machine::X86_64))
                    .value
                    .map(Platform::api_name),
                Some(want),
                "{id}"
            );
        }
        let mut stream = linux("centos", Machine::X86_64);
        stream.name = Some("CentOS Stream".into());
        assert_eq!(platform(&stream).value, Some(Platform::CentOsStream));
        let mut fcos = linux("fedora", Machine::X86_64);
        fcos.variant_id = Some("coreos".into());
        assert_eq!(platform(&fcos).value, Some(Platform::FedoraCoreOs));
    }

    #[test]
    fn each_architecture_is_the_machine_of_its_name() {
        for a in [
            Architecture::I386,
            Architecture::X86_64,
            Architecture::Arm64,
        ] {
            assert_eq!(machine(a).to_string(), a.api_name());
            assert_eq!(listed(machine(a)), Some(a));
        }
        for m in [Machine::Arm, Machine::Riscv64, Machine::UnknownPe(0x200)] {
            assert_eq!(listed(m), None, "{m}");
        }
    }

    #[test]
    fn a_loader_tells_the_machine_when_no_binary_does() {
        let a = architecture(None, &[loader(Machine::Arm64)]);
        assert_eq!(a.value, Some(Architecture::Arm64));
        assert!(
            a.because.contains("PE header of EFI loader"),
            "{}",
            a.because
        );
        assert_eq!(architecture(None, &[loader(Machine::Riscv64)]).value, None);
    }

    #[test]
    fn unsupported_arch_is_unknown_with_a_reason() {
        let a = architecture(Some(&linux("debian", Machine::Riscv64)), &[]);
        assert_eq!(a.value, None);
        assert!(a.because.contains("accepts only"));
    }

    #[test]
    fn an_unlisted_machine_is_unknown_to_the_report_but_seen_by_the_plan() {
        let os = linux("debian", Machine::Riscv64);
        let min_disk = Fact::known(1u64, "virtual size");
        let seen = Seen {
            os: Some(&os),
            efi_loaders: &[],
            bios_boot: &[],
            min_disk: &min_disk,
        };
        let g = guest_facts(&seen, &mut Vec::new());
        let shown = g.shown(&seen).architecture;
        assert_eq!(shown.value, None);
        assert_eq!(
            shown.because,
            "the guest is riscv64 (ELF header of /bin/bash); ImportImage accepts only i386, \
             x86_64, arm64"
        );
        assert_eq!(
            g.architecture_seen(),
            Fact::known(
                Detected::Other("riscv64".into()),
                "ELF header of /bin/bash on partition 2"
            )
        );
        // A listed machine is the API's value, and no root at all stays unknown.
        let os = linux("debian", Machine::Arm64);
        let seen = Seen {
            os: Some(&os),
            ..seen
        };
        let g = guest_facts(&seen, &mut Vec::new());
        assert_eq!(
            g.architecture_seen().value,
            Some(Detected::Api(Architecture::Arm64))
        );
        let seen = Seen { os: None, ..seen };
        assert_eq!(
            guest_facts(&seen, &mut Vec::new())
                .architecture_seen()
                .value,
            None
        );
    }

    #[test]
    fn both_boot_modes_are_reported() {
        let mut w = Vec::new();
        let bios = ["non-zero boot code in MBR bytes 0..440".to_string()];
        let f = boot_mode(
            Some(Architecture::X86_64),
            &[loader(Machine::X86_64)],
            &bios,
            &mut w,
        );
        assert_eq!(f.value, Some(BootMode::Bios));
        assert!(f.because.starts_with("both: UEFI"), "{}", f.because);
        let f = boot_mode(
            Some(Architecture::Arm64),
            &[loader(Machine::Arm64)],
            &bios,
            &mut w,
        );
        assert_eq!(f.value, Some(BootMode::Uefi));
        let f = boot_mode(Some(Architecture::Arm64), &[], &bios, &mut w);
        assert_eq!(f.value, Some(BootMode::Bios));
        assert!(w[0].contains("ECS boots arm64 by UEFI only"), "{w:?}");
    }

    #[test]
    fn cloud_init_is_required_for_arm64_and_the_strict_platforms_only() {
        let x86 = Some(Architecture::X86_64);
        assert_eq!(
            cloud_init_required(Some(Architecture::Arm64), Some(Platform::Debian)).as_deref(),
            Some("arm64 images")
        );
        assert_eq!(
            cloud_init_required(x86, Some(Platform::RockyLinux)).as_deref(),
            Some("Rocky Linux images")
        );
        for p in [Platform::Debian, Platform::Ubuntu, Platform::OthersLinux] {
            assert_eq!(cloud_init_required(x86, Some(p)), None, "{p}");
        }
        assert_eq!(cloud_init_required(x86, None), None);
    }
}
