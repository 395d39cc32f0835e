//! The container kinds imgtool reads, by name.

/// The container kinds imgtool reads. Plain image words, no cloud vocabulary: the import plan
/// maps them to what ImportImage calls them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Raw,
    Vhd,
    Qcow2,
    Vhdx,
    Vmdk,
}

impl Kind {
    /// The lower-case name used in reports (`"format": "vhd"`).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Raw => "raw",
            Kind::Vhd => "vhd",
            Kind::Qcow2 => "qcow2",
            Kind::Vhdx => "vhdx",
            Kind::Vmdk => "vmdk",
        }
    }
}
