//! Entry points shared by the fuzz targets (`fuzz/`) and by the test that replays their corpora
//! (`tests/it/fuzz_corpus.rs`), so CI exercises every committed input without libFuzzer.
//! Each takes arbitrary bytes and must never panic, hang or allocate without bound.
#![doc(hidden)]

use std::path::{Path, PathBuf};

use crate::VirtualDisk;

/// A scratch folder for this process and thread (inputs are written to files: the readers work
/// on files; tests replay corpora on several threads at once).
fn scratch() -> Option<PathBuf> {
    let thread =
        format!("{:?}", std::thread::current().id()).replace(|c: char| !c.is_ascii_digit(), "");
    let dir = std::env::temp_dir().join(format!("imgtool-fuzz-{}-{thread}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    Some(dir)
}

/// Open, read, report and check one image file.
fn exercise(path: &Path) {
    if let Ok(img) = crate::image::open(path) {
        let size = img.size();
        let mut buf = vec![0u8; 64 * 1024];
        for off in [0, size / 3, size.saturating_sub(buf.len() as u64)] {
            let n = buf.len().min(size.saturating_sub(off) as usize);
            let _ = img.read_at(off, &mut buf[..n]);
        }
        let mut off = 0;
        for _ in 0..64 {
            match img.extent(off) {
                Ok(e) if off < size => off += e.len,
                _ => break,
            }
        }
        let _ = crate::image::info::image_json(&img);
        let _ = crate::plan::inspect_disk(&img).to_json();
    }
    let _ = crate::image::vhd::check::check(path);
}

/// Any bytes as one image file.
pub fn vhd_open(data: &[u8]) {
    let Some(dir) = scratch() else { return };
    let p = dir.join("input.vhd");
    if std::fs::write(&p, data).is_ok() {
        exercise(&p);
    }
}

/// Any bytes as one qcow2 file: open, read, report, check (through the registry, so a file
/// the mutations turn into another format is read as that one).
pub fn qcow2_open(data: &[u8]) {
    let Some(dir) = scratch() else { return };
    let p = dir.join("input.qcow2");
    if std::fs::write(&p, data).is_ok() {
        exercise(&p);
        let _ = crate::image::check::check(&p);
    }
}

/// Any bytes as a VMDK: one file, or, when the input holds a line `#CUT`, a descriptor (the
/// part before it, written as `disk.vmdk`) and one extent file (the part after it, written as
/// `extent.vmdk`, the name the seed descriptors use).
pub fn vmdk_open(data: &[u8]) {
    const CUT: &[u8] = b"\n#CUT\n";
    let Some(dir) = scratch() else { return };
    let (first, extent) = match data.windows(CUT.len()).position(|w| w == CUT) {
        Some(i) => (&data[..i + 1], &data[i + CUT.len()..]),
        None => (data, &[][..]),
    };
    let p = dir.join("disk.vmdk");
    if std::fs::write(&p, first).is_err()
        || std::fs::write(dir.join("extent.vmdk"), extent).is_err()
    {
        return;
    }
    exercise(&p);
    let _ = crate::image::check::check(&p);
}

/// Any bytes as a differencing chain: the input is cut into up to three files at the offsets
/// its first eight bytes name, written as `child.vhd`, `parent.vhd` and `base.vhd` (the names
/// the seed corpus's locators use).
pub fn vhd_chain(data: &[u8]) {
    let Some(dir) = scratch() else { return };
    let Some(parts) = chain_parts(data) else {
        return;
    };
    for (name, part) in parts {
        if std::fs::write(dir.join(name), part).is_err() {
            return;
        }
    }
    exercise(&dir.join("child.vhd"));
}

/// The files a `vhd_chain` input stands for, child first (also used by the test that runs
/// the binary on every regression input).
pub fn chain_parts(data: &[u8]) -> Option<[(&'static str, &[u8]); 3]> {
    let (cuts, rest) = data.split_first_chunk::<8>()?;
    let cuts = crate::bytes::Fixed(cuts);
    let cut = |n: u32| usize::try_from(n).unwrap_or(usize::MAX);
    let a = cut(cuts.le_u32::<0>()).min(rest.len());
    let b = cut(cuts.le_u32::<4>()).clamp(a, rest.len());
    Some([
        ("child.vhd", &rest[..a]),
        ("parent.vhd", &rest[a..b]),
        ("base.vhd", &rest[b..]),
    ])
}

/// The largest file a `vhdx_open` input describes.
const VHDX_FUZZ_MAX_FILE: u64 = 32 << 20;

/// A VHDX file described compactly, since its structures lie megabytes apart: the input is a
/// file length in KiB (u32 LE, capped at 32 MiB) and then patches, each an offset (u32 LE), a
/// length (u16 LE) and that many bytes, written into an otherwise zero (sparse) file.
/// fuzz/make-corpus.py writes real images in this form.
pub fn vhdx_open(data: &[u8]) {
    use std::os::unix::fs::FileExt;
    let Some(dir) = scratch() else { return };
    let Some((len, mut rest)) = data.split_first_chunk::<4>() else {
        return;
    };
    let len = (u64::from(crate::bytes::Fixed(len).le_u32::<0>()) * 1024).min(VHDX_FUZZ_MAX_FILE);
    let p = dir.join("input.vhdx");
    let Ok(f) = std::fs::File::create(&p) else {
        return;
    };
    if f.set_len(len).is_err() {
        return;
    }
    while let Some((head, tail)) = rest.split_first_chunk::<6>() {
        let patch = crate::bytes::Fixed(head);
        let off = u64::from(patch.le_u32::<0>());
        let n = usize::from(patch.le_u16::<4>()).min(tail.len());
        let (bytes, next) = tail.split_at(n);
        if off + n as u64 <= len && f.write_all_at(bytes, off).is_err() {
            return;
        }
        rest = next;
    }
    drop(f);
    exercise(&p);
    let _ = crate::image::check::check(&p);
}

/// Any bytes as a RAW disk: partition tables, file-system probes and guest readers.
pub fn disk_inspect(data: &[u8]) {
    let Some(dir) = scratch() else { return };
    let p = dir.join("disk.img");
    if std::fs::write(&p, data).is_ok() {
        if let Ok(img) = crate::image::raw::RawImage::open(&p) {
            let r = crate::plan::inspect_disk(&img);
            let _ = r.to_json();
            let _ = r.render_text();
        }
    }
}

/// Remove this thread's scratch folder.
pub fn cleanup() {
    if let Some(d) = scratch() {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// Any bytes as a cloud answer: the first byte picks an HTTP status, the rest is the body,
/// read as an RPC JSON answer and as the OSS XML answers we parse.
pub fn cloud_answers(data: &[u8]) {
    let Some((&s, body)) = data.split_first() else {
        return;
    };
    let status = [200u16, 400, 403, 404, 409, 500, 503][usize::from(s) % 7];
    let body = String::from_utf8_lossy(body);
    let _ = crate::cloud::rpc::parse_response(status, &body);
    let _ = crate::cloud::oss::xml::list_parts(&body);
    let _ = crate::cloud::oss::xml::upload_id(&body);
    let _ = crate::cloud::oss::xml::location(&body);
    let _ = crate::cloud::oss::xml::error(&body);
}

/// Any bytes as the readiness report's text files: fstab, grub.cfg (menus, `set default`),
/// BLS entries, grubenv, device specs and kernel versions, cloud-init's version.py and dpkg's
/// status (issue 17).
pub fn readiness_parsers(data: &[u8]) {
    use crate::disk::readiness::{fstab, grub, ids::Spec, system};
    let text = String::from_utf8_lossy(data);
    for e in fstab::parse(&text) {
        let _ = Spec::parse(&e.spec);
        let _ = e.required();
    }
    let cfg = grub::parse_grub_cfg(&text);
    let env = grub::parse_grubenv(&text);
    let saved = env.first().map(|(_, v)| v.as_str());
    if let Some((e, _)) = cfg.default_entry(saved) {
        let _ = e.kernel.as_deref().and_then(grub::kernel_version);
        let _ = grub::root_arg(&e.args).map(Spec::parse);
    }
    let _ = system::parse_version_py(&text);
    let _ = system::parse_dpkg_status(&text, "cloud-init");
    let bls = grub::parse_bls("fuzz.conf", &text);
    let _ = grub::root_arg(&bls.args);
    let mut lines = text.lines();
    if let (Some(a), Some(b)) = (lines.next(), lines.next()) {
        let _ = grub::version_cmp(a, b);
        let _ = system::version_cmp(a, b);
        let _ = Spec::parse(a);
    }
}

/// Any bytes as an initramfs: the module scan (stopping early or not) and the full listing,
/// under caps small enough that a bomb in the input hits them quickly.
pub fn initramfs(data: &[u8]) {
    use crate::disk::initramfs::{Limits, list_names, scan_modules};
    let limits = Limits {
        max_input: 1 << 20,
        max_output: 8 << 20,
    };
    let _ = scan_modules(
        &mut &data[..],
        &["virtio_blk", "virtio_net", "nvme"],
        limits,
    );
    let _ = scan_modules(&mut &data[..], &[], limits);
    let _ = list_names(&mut &data[..], limits);
}
