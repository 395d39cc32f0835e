//! One integration-test binary (as ripgrep does): each area is a module, sharing `util`.

mod convert;
mod util;
mod vhd_read;
