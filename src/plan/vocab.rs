//! The ImportImage vocabulary, in one place: each enumeration the API takes as a typed value
//! with its API name (`api_name`, `Display`, serde as the API string) and a parser that
//! accepts the name in any case (`parse`). Adding a value the API starts to take is one line
//! in its list here.

use serde::{Serialize, Serializer};

/// A closed set of API values: every value in the API's order, and its API name.
pub trait ApiName: Copy + Eq + 'static {
    /// The parameter the value goes into (`Architecture`, `OSType`...).
    const FIELD: &'static str;
    /// The `imgtool import` flag that chooses it, without `--` (`architecture`, `os-type`...).
    const FLAG: &'static str;
    /// Every value, in the order the API reference lists them.
    const ALL: &'static [Self];
    fn api_name(self) -> &'static str;

    /// The value whose API name is `s`, compared without case and surrounding blanks.
    fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|v| v.api_name().eq_ignore_ascii_case(s.trim()))
    }

    /// Every API name, in order (for error messages).
    fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|v| v.api_name()).collect()
    }
}

/// One enumeration: its variants with their API names, in the API's order.
macro_rules! api_enum {
    ($(#[$m:meta])* $name:ident, $field:literal, $flag:literal, { $($(#[$vm:meta])* $v:ident => $s:literal,)+ }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vm])* $v,)+
        }

        impl ApiName for $name {
            const FIELD: &'static str = $field;
            const FLAG: &'static str = $flag;
            const ALL: &'static [Self] = &[$($name::$v,)+];
            fn api_name(self) -> &'static str {
                match self {
                    $($name::$v => $s,)+
                }
            }
        }

        impl $name {
            /// The API's name of the value.
            pub fn api_name(self) -> &'static str {
                ApiName::api_name(self)
            }
            /// The value named `s` (any case), if the API has it.
            pub fn parse(s: &str) -> Option<Self> {
                <Self as ApiName>::parse(s)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.api_name())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.api_name())
            }
        }
    };
}

api_enum!(
    /// `Architecture`: the machine the guest runs on.
    Architecture, "Architecture", "architecture", {
        I386 => "i386",
        X86_64 => "x86_64",
        Arm64 => "arm64",
    }
);

api_enum!(
    /// `OSType`.
    OsType, "OSType", "os-type", {
        Linux => "linux",
        Windows => "windows",
    }
);

api_enum!(
    /// `BootMode`.
    BootMode, "BootMode", "boot-mode", {
        Bios => "BIOS",
        Uefi => "UEFI",
    }
);

api_enum!(
    /// `DiskDeviceMapping.N.Format`: the container format of the object ImportImage reads.
    ImageFormat, "Format", "format", {
        Raw => "RAW",
        Vhd => "VHD",
        Qcow2 => "QCOW2",
    }
);

api_enum!(
    /// `Platform`: the current API reference's list, which has no `Other Windows` (a Windows
    /// it does not name is sent as the closest listed Windows Server; see `reading`).
    Platform, "Platform", "platform", {
        Aliyun => "Aliyun",
        Anolis => "Anolis",
        CentOs => "CentOS",
        Ubuntu => "Ubuntu",
        CoreOs => "CoreOS",
        Suse => "SUSE",
        Debian => "Debian",
        OpenSuse => "OpenSUSE",
        FreeBsd => "FreeBSD",
        RedHat => "RedHat",
        Kylin => "Kylin",
        Uos => "UOS",
        Fedora => "Fedora",
        FedoraCoreOs => "Fedora CoreOS",
        CentOsStream => "CentOS Stream",
        AlmaLinux => "AlmaLinux",
        RockyLinux => "Rocky Linux",
        Gentoo => "Gentoo",
        CustomizedLinux => "Customized Linux",
        OthersLinux => "Others Linux",
        WindowsServer2022 => "Windows Server 2022",
        WindowsServer2019 => "Windows Server 2019",
        WindowsServer2016 => "Windows Server 2016",
        WindowsServer2012 => "Windows Server 2012",
        WindowsServer2008 => "Windows Server 2008",
        WindowsServer2003 => "Windows Server 2003",
    }
);

api_enum!(
    /// `LicenseType` (Windows images).
    LicenseType, "LicenseType", "license-type", {
        Aliyun => "Aliyun",
        Byol => "BYOL",
        Auto => "Auto",
    }
);

/// A value seen in an image: one the API lists, or a name it has none for (an ELF machine
/// `riscv64`, a distribution `Arch Linux`). The plan compares the listed ones with the
/// caller's choices and decides what an unlisted one means (see `build`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detected<T> {
    Api(T),
    Other(String),
}

impl<T: ApiName> Detected<T> {
    /// The value for `name`: the listed one (any case), else the name as seen.
    pub fn from_name(name: &str) -> Self {
        T::parse(name).map_or_else(|| Detected::Other(name.to_string()), Detected::Api)
    }

    /// The API's value, if the API lists it.
    pub fn api(&self) -> Option<T> {
        match self {
            Detected::Api(v) => Some(*v),
            Detected::Other(_) => None,
        }
    }
}

impl<T> From<T> for Detected<T> {
    fn from(v: T) -> Self {
        Detected::Api(v)
    }
}

/// The API name, or the name as seen.
impl<T: std::fmt::Display> std::fmt::Display for Detected<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Detected::Api(v) => v.fmt(f),
            Detected::Other(s) => f.write_str(s),
        }
    }
}

impl Architecture {
    /// The boot mode when nothing says otherwise: arm64 boots only with UEFI.
    pub fn default_boot_mode(self) -> BootMode {
        match self {
            Architecture::Arm64 => BootMode::Uefi,
            Architecture::I386 | Architecture::X86_64 => BootMode::Bios,
        }
    }
}

impl ImageFormat {
    /// The word `--format` takes for it: the API name in lower case.
    pub fn flag_name(self) -> &'static str {
        match self {
            ImageFormat::Raw => "raw",
            ImageFormat::Vhd => "vhd",
            ImageFormat::Qcow2 => "qcow2",
        }
    }
}

impl OsType {
    /// The platform when nothing says otherwise. The list has no generic Windows value: the
    /// newest listed one.
    pub fn default_platform(self) -> Platform {
        match self {
            OsType::Windows => Platform::WindowsServer2022,
            OsType::Linux => Platform::OthersLinux,
        }
    }
}

impl Platform {
    /// The OS type the platform is a release of.
    pub fn os_type(self) -> OsType {
        if self.api_name().starts_with("Windows") {
            OsType::Windows
        } else {
            OsType::Linux
        }
    }

    /// `Windows Server <year>` for a year the list names.
    pub fn windows_server(year: &str) -> Option<Platform> {
        Platform::parse(&format!("Windows Server {year}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_in_any_case() {
        fn all<T: ApiName + std::fmt::Debug>() {
            for v in T::ALL {
                assert_eq!(T::parse(v.api_name()), Some(*v));
                assert_eq!(T::parse(&v.api_name().to_ascii_lowercase()), Some(*v));
            }
            assert_eq!(T::parse("nonsense"), None);
        }
        all::<Architecture>();
        all::<OsType>();
        all::<BootMode>();
        all::<ImageFormat>();
        all::<Platform>();
        all::<LicenseType>();
        assert_eq!(Platform::ALL.len(), 26);
        assert_eq!(Platform::parse(" rocky linux "), Some(Platform::RockyLinux));
    }

    #[test]
    fn display_and_serde_are_the_api_names() {
        assert_eq!(Architecture::X86_64.to_string(), "x86_64");
        assert_eq!(
            serde_json::to_string(&Platform::CentOsStream).unwrap(),
            "\"CentOS Stream\""
        );
        assert_eq!(serde_json::to_string(&BootMode::Uefi).unwrap(), "\"UEFI\"");
        assert_eq!(ImageFormat::Qcow2.to_string(), "QCOW2");
        for f in ImageFormat::ALL {
            assert_eq!(f.flag_name(), f.api_name().to_ascii_lowercase());
        }
    }

    #[test]
    fn detected_values_listed_or_not() {
        let arm: Detected<Architecture> = Detected::from_name("ARM64");
        assert_eq!(arm, Detected::Api(Architecture::Arm64));
        assert_eq!(arm.to_string(), "arm64");
        let riscv: Detected<Architecture> = Detected::from_name("riscv64");
        assert_eq!(riscv.api(), None);
        assert_eq!(riscv.to_string(), "riscv64");
        let arch: Detected<Platform> = Detected::from_name("Arch Linux");
        assert_eq!(arch, Detected::Other("Arch Linux".into()));
        assert_eq!(
            Detected::from(Platform::RockyLinux).api(),
            Some(Platform::RockyLinux)
        );
    }

    #[test]
    fn platforms_know_their_os() {
        assert_eq!(Platform::WindowsServer2003.os_type(), OsType::Windows);
        assert_eq!(Platform::FreeBsd.os_type(), OsType::Linux);
        assert_eq!(
            Platform::windows_server("2016"),
            Some(Platform::WindowsServer2016)
        );
        assert_eq!(Platform::windows_server("2025"), None);
    }
}
