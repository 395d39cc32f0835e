//! The names of a qcow2 header's set feature bits: the spec's own names, else the feature
//! name table the file carries, else "unknown bit N".

use super::header::Header;

impl Header {
    /// Names of the set feature bits, from the table in the file when it names them.
    pub fn feature_list(&self) -> Vec<String> {
        let mut out = Vec::new();
        let builtin = |kind: u8, bit: u32| -> Option<&'static str> {
            Some(match (kind, bit) {
                (0, 0) => "dirty",
                (0, 1) => "corrupt",
                (0, 2) => "external data file",
                (0, 3) => "compression type",
                (0, 4) => "extended L2 entries",
                (1, 0) => "lazy refcounts",
                (2, 0) => "bitmaps",
                (2, 1) => "raw external data",
                _ => return None,
            })
        };
        for (kind, word) in [
            (0u8, self.incompatible),
            (1, self.compatible),
            (2, self.autoclear),
        ] {
            for bit in 0..64u32 {
                if word & (1 << bit) == 0 {
                    continue;
                }
                let from_table = self
                    .feature_names
                    .iter()
                    .find(|f| f.kind == kind && u32::from(f.bit) == bit)
                    .map(|f| f.name.clone());
                let name = builtin(kind, bit)
                    .map(str::to_string)
                    .or(from_table)
                    .unwrap_or_else(|| format!("unknown bit {bit}"));
                out.push(name);
            }
        }
        out
    }
}
