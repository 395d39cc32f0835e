//! Any bytes as one qcow2 file: open, read, report, check.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| imgtool::fuzzing::qcow2_open(data));
