//! Guest inspection speed: `inspect_disk` on a 1 GiB sparse disk holding the UEFI x86_64
//! fixture (GPT, ESP, ext4 Debian root). Prints wall time and bytes read from the image, the
//! number that shows inspection touches metadata only.
//!
//!     cargo bench --bench guest

use std::io::Read;
use std::time::{Duration, Instant};

const FIXTURE: &str = "testdata/guest/uefi-x86_64.img.gz";
const VIRTUAL_SIZE: u64 = 1 << 30;
const RUNS: usize = 20;

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("guest-1g.img");
    write_sparse_disk(&path);
    let img = imgtool::image::open(&path).expect("open the bench image");
    let mut times = Vec::with_capacity(RUNS);
    let mut report = None;
    for _ in 0..RUNS {
        let t = Instant::now();
        report = Some(imgtool::plan::inspect_disk(&img));
        times.push(t.elapsed());
    }
    times.sort();
    let r = report.expect("at least one run");
    println!(
        "guest inspect, {} MiB virtual ({}): median {:?}, min {:?} over {RUNS} runs; {} bytes read ({:.4}% of the disk)",
        VIRTUAL_SIZE >> 20,
        FIXTURE,
        times[RUNS / 2],
        times[0],
        r.bytes_read,
        r.bytes_read as f64 * 100.0 / VIRTUAL_SIZE as f64
    );
    println!(
        "facts: {} {} {} {}",
        r.import.architecture.value.as_deref().unwrap_or("?"),
        r.import.os_type.value.as_deref().unwrap_or("?"),
        r.import.platform.value.as_deref().unwrap_or("?"),
        r.import.boot_mode.value.as_deref().unwrap_or("?")
    );
    assert!(times[0] > Duration::ZERO);
}

/// The fixture at the start of a sparse 1 GiB file: the data past its 16 MiB is a hole.
fn write_sparse_disk(path: &std::path::Path) {
    let gz = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE);
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&gz).expect("open fixture"))
        .read_to_end(&mut bytes)
        .expect("gunzip fixture");
    std::fs::write(path, &bytes).expect("write bench image");
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .expect("reopen bench image");
    f.set_len(VIRTUAL_SIZE).expect("extend bench image");
}
