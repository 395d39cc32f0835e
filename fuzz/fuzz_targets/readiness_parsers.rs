//! Any bytes as fstab, grub.cfg, BLS entries and grubenv (the readiness report's parsers).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| imgtool::fuzzing::readiness_parsers(data));
