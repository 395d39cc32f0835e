//! Any bytes as a VMDK (a sparse extent, a descriptor and its extent, an OVA): open, read,
//! report, check.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| imgtool::fuzzing::vmdk_open(data));
