//! One integration-test binary (as ripgrep does): each area is a module, sharing `util`.

mod disk_guest;
mod disk_hostile;
mod disk_util;
mod util;
