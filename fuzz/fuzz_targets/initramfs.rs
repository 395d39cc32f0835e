//! Any bytes as an initramfs: concatenated newc cpio archives, stored or compressed.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| imgtool::fuzzing::initramfs(data));
