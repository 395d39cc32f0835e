//! Any bytes as a RAW disk: MBR/EBR, GPT, file-system probes, guest readers.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| imgtool::fuzzing::disk_inspect(data));
