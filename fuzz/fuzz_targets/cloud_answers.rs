//! Any bytes as an RPC (JSON) or OSS (XML) answer.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| imgtool::fuzzing::cloud_answers(data));
