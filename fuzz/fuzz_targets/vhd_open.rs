//! Any bytes as one image file: open, read, report, check.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| imgtool::fuzzing::vhd_open(data));
