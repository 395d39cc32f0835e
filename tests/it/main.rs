//! One integration-test binary (as ripgrep does): each area is a module, sharing `util`.

mod architecture;
mod cloud_credentials;
mod cloud_import;
mod cloud_support;
mod cloud_task;
mod cloud_upload;
mod convert;
mod disk_btrfs;
mod disk_guest;
mod disk_hostile;
mod disk_lvm;
mod disk_util;
mod disk_windows;
mod disk_xfs;
mod fake_cloud;
mod fake_oss;
mod fuzz_corpus;
mod golden;
mod inspect;
mod util;
mod vhd_hostile;
mod vhd_read;
mod vhd_stream;
