//! Compressed clusters: raw deflate (zlib's format without its header, as QEMU writes it) or a
//! zstd frame. Either must give exactly one cluster; anything else is an error.

use std::io::Read;

/// Inflate `input` into `out` (one cluster). Trailing bytes after the stream are ignored: the
/// stored length is rounded up to whole sectors.
pub fn inflate(input: &[u8], out: &mut [u8]) -> Result<(), String> {
    let mut d = flate2::Decompress::new(false);
    match d.decompress(input, out, flate2::FlushDecompress::Finish) {
        Ok(_) if d.total_out() == out.len() as u64 => Ok(()),
        Ok(_) => Err(format!(
            "deflate data giving {} bytes, not a whole cluster",
            d.total_out()
        )),
        Err(e) => Err(format!("deflate data that does not inflate ({e})")),
    }
}

/// Decompress one zstd frame from `input` into `out` (one cluster).
pub fn unzstd(input: &[u8], out: &mut [u8]) -> Result<(), String> {
    let mut d = zstd::stream::read::Decoder::with_buffer(input)
        .map_err(|e| format!("a zstd stream that cannot start ({e})"))?
        .single_frame();
    d.read_exact(out)
        .map_err(|e| format!("a zstd frame that does not give a whole cluster ({e})"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn raw_deflate_round_trip_and_short_output_refused() {
        let data: Vec<u8> = (0..4096u32).map(|i| (i % 251) as u8).collect();
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(&data).unwrap();
        let mut z = e.finish().unwrap();
        z.extend_from_slice(&[0u8; 300]);
        let mut out = vec![0u8; 4096];
        inflate(&z, &mut out).unwrap();
        assert_eq!(out, data);
        let mut big = vec![0u8; 8192];
        assert!(inflate(&z, &mut big).is_err());
        assert!(inflate(&[0xff; 64], &mut out).is_err());
    }

    #[test]
    fn zstd_frame_must_fill_the_cluster() {
        let data = vec![7u8; 4096];
        let z = zstd::bulk::compress(&data, 3).unwrap();
        let mut out = vec![0u8; 4096];
        unzstd(&z, &mut out).unwrap();
        assert_eq!(out, data);
        let mut big = vec![0u8; 8192];
        assert!(unzstd(&z, &mut big).is_err());
    }
}
