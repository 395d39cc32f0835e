//! The import as a library: from image files to what the cloud half needs (facts, checks,
//! the disks to upload). The CLI only parses arguments and renders.

pub mod data_disks;
pub mod facts;
pub mod readiness;
