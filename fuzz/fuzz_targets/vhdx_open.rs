//! A VHDX file described as patches over a zero file: open, read, report, check.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| imgtool::fuzzing::vhdx_open(data));
