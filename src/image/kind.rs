//! The container kinds imgtool reads, by name.

/// The container kinds imgtool reads. Plain image words, no cloud vocabulary: the import plan
/// maps them to what ImportImage calls them.
/// Serialized as its [`Kind::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
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

#[cfg(test)]
mod tests {
    use super::Kind;

    #[test]
    fn serialized_as_its_name() {
        for k in [Kind::Raw, Kind::Vhd, Kind::Qcow2, Kind::Vhdx, Kind::Vmdk] {
            let json = serde_json::to_value(k).unwrap();
            assert_eq!(json, serde_json::Value::from(k.name()));
        }
    }
}
