//! Replays the fuzz targets' committed corpora (fuzz/corpus/) and every input a fuzzer ever
//! found (fuzz/regressions/), plus a few hundred deterministic mutations of each seed, through
//! the same entry points the fuzz targets use. This is CI's fuzz smoke run: no libFuzzer
//! needed. `fuzz/run.sh` runs the real fuzzers for longer.

use std::fs;
use std::path::Path;

type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 9] = [
    ("qcow2_open", imgtool::fuzzing::qcow2_open),
    ("vhd_open", imgtool::fuzzing::vhd_open),
    ("vhdx_open", imgtool::fuzzing::vhdx_open),
    ("vhd_chain", imgtool::fuzzing::vhd_chain),
    ("vmdk_open", imgtool::fuzzing::vmdk_open),
    ("disk_inspect", imgtool::fuzzing::disk_inspect),
    ("cloud_answers", imgtool::fuzzing::cloud_answers),
    ("readiness_parsers", imgtool::fuzzing::readiness_parsers),
    ("initramfs", imgtool::fuzzing::initramfs),
];

fn inputs(dir: &Path) -> Vec<Vec<u8>> {
    let Ok(rd) = fs::read_dir(dir) else {
        return vec![];
    };
    let mut v: Vec<_> = rd
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v.iter().map(|p| fs::read(p).unwrap()).collect()
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn fuzz_corpora_and_regressions_replay_cleanly() {
    let mut seen = 0;
    for (name, f) in TARGETS {
        for dir in ["corpus", "regressions"] {
            for data in inputs(&root().join("fuzz").join(dir).join(name)) {
                f(&data);
                seen += 1;
            }
        }
    }
    imgtool::fuzzing::cleanup();
    assert!(
        seen >= 10,
        "the committed corpora are there ({seen} inputs)"
    );
}

#[test]
fn mutated_seeds_never_panic() {
    // xorshift: deterministic, so a failure reproduces.
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for (name, f) in TARGETS {
        let seeds = inputs(&root().join("fuzz/corpus").join(name));
        for seed in seeds {
            // The structures live in the first and last KiB and at a few headers; mutate there
            // mostly, with some hits anywhere.
            for _ in 0..60 {
                let mut d = seed.clone();
                let n = d.len();
                if n == 0 {
                    continue;
                }
                for _ in 0..(1 + next() % 8) {
                    let r = next() as usize;
                    let at = match r % 3 {
                        0 => r / 3 % n.min(4096),
                        1 => n - 1 - (r / 3 % n.min(1024)),
                        _ => r / 3 % n,
                    };
                    d[at] = next() as u8;
                }
                f(&d);
            }
        }
        let _ = name;
    }
    imgtool::fuzzing::cleanup();
}
