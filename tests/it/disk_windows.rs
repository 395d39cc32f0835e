//! Windows version from the SOFTWARE hive (testdata/make-guest-fixtures-2.sh: hivexsh wrote
//! the values into an NTFS image; hivexget read them back when the fixture was made).

use imgtool::disk::DiskReport;

use crate::disk_util::{fixture_tests, inspect_raw};

fn check_2019(r: &DiskReport) {
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    let os = r.os.as_ref().expect("an OS");
    assert_eq!(os.os_type.as_str(), "windows");
    let w = os.windows.as_ref().expect("a version from the hive");
    assert_eq!(
        w.product_name.as_deref(),
        Some("Windows Server 2019 Datacenter")
    );
    assert_eq!(w.current_build.as_deref(), Some("17763"));
    assert_eq!(w.installation_type.as_deref(), Some("Server"));
    assert_eq!(w.edition_id.as_deref(), Some("ServerDatacenter"));
    assert_eq!(
        r.import.platform.value.as_deref(),
        Some("Windows Server 2019")
    );
    assert!(
        r.import
            .platform
            .because
            .contains("CurrentBuildNumber=\"17763\"")
    );
    assert_eq!(r.import.architecture.value.as_deref(), Some("x86_64"));
    let j = r.to_json();
    assert_eq!(j["guest"]["os"]["windows"]["current_build"], "17763");
}

fixture_tests!(
    windows_server_2019_raw,
    windows_server_2019_vhd,
    "windows-2019",
    check_2019
);

/// The older fixture's SOFTWARE is a 4-byte stub: no version, so the newest listed Windows
/// Server (the current Platform list has no generic Windows), and a warning naming it.
#[test]
fn stub_hive_is_other_windows_with_a_warning() {
    let r = inspect_raw("windows-ntfs");
    assert_eq!(
        r.import.platform.value.as_deref(),
        Some("Windows Server 2022")
    );
    assert!(
        r.warnings.iter().any(|w| w.contains("config/SOFTWARE")),
        "{:?}",
        r.warnings
    );
}
