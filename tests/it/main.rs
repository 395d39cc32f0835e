//! One integration-test binary (as ripgrep does): each area is a module, sharing `util`.

mod golden;
mod inspect;
mod util;
mod vhd_hostile;
mod vhd_read;
