//! The machine a guest's binaries are built for, as their ELF or PE header names it: what the
//! disk saw, not the cloud's vocabulary (the import plan maps it to ImportImage's
//! Architecture by variant).

/// An ELF e_machine or PE machine, named as the report shows it (`x86_64`, `arm64`,
/// `unknown(e_machine 21)`...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Machine {
    /// ELF EM_386 (3), PE IMAGE_FILE_MACHINE_I386 (0x14c).
    I386,
    /// ELF EM_X86_64 (62), PE IMAGE_FILE_MACHINE_AMD64 (0x8664).
    X86_64,
    /// ELF EM_AARCH64 (183), PE IMAGE_FILE_MACHINE_ARM64 (0xaa64).
    Arm64,
    /// ELF EM_ARM (40), PE IMAGE_FILE_MACHINE_ARMNT (0x1c4).
    Arm,
    /// ELF EM_RISCV (243), ELFCLASS64.
    Riscv64,
    /// ELF EM_RISCV (243), any other class.
    Riscv32,
    /// Another ELF e_machine.
    UnknownElf(u16),
    /// Another PE machine.
    UnknownPe(u16),
}

impl Machine {
    /// ELF e_machine and EI_CLASS (2 = 64-bit) to a machine.
    pub fn from_elf(machine: u16, class: u8) -> Self {
        match (machine, class) {
            (3, _) => Machine::I386,
            (62, _) => Machine::X86_64,
            (183, _) => Machine::Arm64,
            (40, _) => Machine::Arm,
            (243, 2) => Machine::Riscv64,
            (243, _) => Machine::Riscv32,
            (m, _) => Machine::UnknownElf(m),
        }
    }

    /// The COFF machine field of a PE file to a machine.
    pub fn from_pe(machine: u16) -> Self {
        match machine {
            0x14C => Machine::I386,
            0x8664 => Machine::X86_64,
            0xAA64 => Machine::Arm64,
            0x1C4 => Machine::Arm,
            m => Machine::UnknownPe(m),
        }
    }
}

impl std::fmt::Display for Machine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Machine::I386 => f.write_str("i386"),
            Machine::X86_64 => f.write_str("x86_64"),
            Machine::Arm64 => f.write_str("arm64"),
            Machine::Arm => f.write_str("arm"),
            Machine::Riscv64 => f.write_str("riscv64"),
            Machine::Riscv32 => f.write_str("riscv32"),
            Machine::UnknownElf(m) => write!(f, "unknown(e_machine {m})"),
            Machine::UnknownPe(m) => write!(f, "unknown(PE machine {m:#06x})"),
        }
    }
}

impl serde::Serialize for Machine {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::Machine;

    #[test]
    fn machine_names_are_the_reports() {
        let names = [
            (Machine::from_elf(3, 1), "i386"),
            (Machine::from_elf(62, 2), "x86_64"),
            (Machine::from_elf(183, 2), "arm64"),
            (Machine::from_elf(40, 1), "arm"),
            (Machine::from_elf(243, 2), "riscv64"),
            (Machine::from_elf(243, 1), "riscv32"),
            (Machine::from_elf(21, 2), "unknown(e_machine 21)"),
            (Machine::from_pe(0x14C), "i386"),
            (Machine::from_pe(0x8664), "x86_64"),
            (Machine::from_pe(0xAA64), "arm64"),
            (Machine::from_pe(0x1C4), "arm"),
            (Machine::from_pe(0x200), "unknown(PE machine 0x0200)"),
        ];
        for (m, name) in names {
            assert_eq!(m.to_string(), name);
            assert_eq!(serde_json::to_string(&m).unwrap(), format!("\"{name}\""));
        }
    }
}
