//! Any bytes as a differencing chain of up to three files.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| imgtool::fuzzing::vhd_chain(data));
