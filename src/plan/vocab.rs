//! The ImportImage vocabulary, in one place: each enumeration the API takes as a typed value
//! with its API name (`api_name`, `Display`, serde as the API string) and a parser that
//! accepts the name in any case (`parse`). Adding a value the API starts to take is one line
//! in its list here.

use serde::{Serialize, Serializer};

/// A closed set of API values: every value in the API's order, and its API name.
pub trait ApiName: Copy + Eq + 'static {
    /// The parameter the value goes into (`Architecture`, `OSType`...).
    const FIELD: &'static str;
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
    ($(#[$m:meta])* $name:ident, $field:literal, { $($(#[$vm:meta])* $v:ident => $s:literal,)+ }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vm])* $v,)+
        }

        impl ApiName for $name {
            const FIELD: &'static str = $field;
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
    Architecture, "Architecture", {
        I386 => "i386",
        X86_64 => "x86_64",
        Arm64 => "arm64",
    }
);

api_enum!(
    /// `OSType`.
    OsType, "OSType", {
        Linux => "linux",
        Windows => "windows",
    }
);

api_enum!(
    /// `BootMode`.
    BootMode, "BootMode", {
        Bios => "BIOS",
        Uefi => "UEFI",
    }
);

api_enum!(
    /// `DiskDeviceMapping.N.Format`: the container format of the object ImportImage reads.
    ImageFormat, "Format", {
        Raw => "RAW",
        Vhd => "VHD",
        Qcow2 => "QCOW2",
    }
);

api_enum!(
    /// `Platform`: the current API reference's list, which has no `Other Windows` (a Windows
    /// it does not name is sent as the closest listed Windows Server; see `reading`).
    Platform, "Platform", {
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
    LicenseType, "LicenseType", {
        Aliyun => "Aliyun",
        Byol => "BYOL",
        Auto => "Auto",
    }
);

impl Architecture {
    /// The boot mode when nothing says otherwise: arm64 boots only with UEFI.
    pub fn default_boot_mode(self) -> BootMode {
        match self {
            Architecture::Arm64 => BootMode::Uefi,
            Architecture::I386 | Architecture::X86_64 => BootMode::Bios,
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
