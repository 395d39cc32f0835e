//! Data disks (`--data-disk FILE`, at most 16): each file is inspected, sized and given an
//! object exactly like the system disk, goes up through the same resumable upload, and is
//! sent as `DiskDeviceMapping.2..17`. Everything here is local: nothing is sent.

use std::path::{Path, PathBuf};

use super::facts::image_facts;
use crate::cloud::upload::{DiskSource, ImageFileSource, Source};
use crate::cloud::vhd_source::{VhdSource, identity_to_record};
use crate::convert::VhdStream;
use crate::error::{Error, Result};
use crate::image::{self, Image};
use crate::plan::sent::{Bytes, Sending};
use crate::plan::{self, ImageFacts, MAX_DISK_GIB, MIN_DISK_GIB};

/// `DiskDeviceMapping.N`, N = 2..17: the service ignores N above 17, so more are refused here.
pub const MAX_DATA_DISKS: usize = 16;

/// A data disk's plan; its image, opened once, is in `super::Opened`.
#[derive(Debug, Clone)]
pub struct DataDisk {
    pub path: PathBuf,
    pub facts: ImageFacts,
    pub object: String,
    /// GiB: the smallest that holds the virtual disk and its file systems.
    pub disk_image_size: u64,
}

impl DataDisk {
    /// The bytes to upload, from `image`, this disk opened.
    pub fn source<'a>(&self, image: &'a Image) -> Result<Box<dyn Source + 'a>> {
        source(&self.path, image, &self.facts.sending)
    }

    /// What identifies the uploaded bytes, for resuming.
    pub fn identity(&self) -> String {
        upload_identity(&self.facts)
    }
}

/// The bytes to upload for the image at `path`, as `sending` says: the file, the disk read
/// as RAW, or the streamed VHD (generated again with the identity the plan chose: the same
/// bytes, checked to be the same length as planned).
pub fn source<'a>(path: &Path, img: &'a Image, sending: &Sending) -> Result<Box<dyn Source + 'a>> {
    Ok(match (sending.bytes, sending.identity) {
        (Bytes::File, _) => Box::new(ImageFileSource(img.file())),
        (Bytes::Raw, _) => Box::new(DiskSource(img)),
        (Bytes::Stream, Some(id)) => {
            let s = VhdStream::new(img, id)?;
            if s.len() != sending.object_size {
                return Err(Error::Failed(format!(
                    "{}: the disk changed while imgtool was reading it (its VHD stream is now \
                     {} bytes, planned {}); run the command again",
                    path.display(),
                    s.len(),
                    sending.object_size
                )));
            }
            Box::new(VhdSource(s))
        }
        (Bytes::Stream, None) => {
            return Err(Error::Failed("a streamed VHD without its identity".into()));
        }
    })
}

/// The resume identity of an upload: the image's identity and how its bytes are produced
/// (for the stream, its unique id and timestamp: the record keeps them).
pub fn upload_identity(facts: &ImageFacts) -> String {
    let how = match (facts.sending.bytes, &facts.sending.identity) {
        (Bytes::Stream, Some(id)) => format!("vhd-stream:{}", identity_to_record(id)),
        (b, _) => b.name().to_string(),
    };
    format!("{};bytes={how}", facts.identity)
}

/// `imgtool/<file name>`; with the extension `.raw` when the disk goes up as RAW read
/// through its reader, `.vhd` when it goes up as the streamed VHD.
pub fn default_object(path: &Path, bytes: Bytes) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "disk".into());
    let name = match bytes {
        Bytes::File => name,
        Bytes::Raw => Path::new(&name).with_extension("raw").display().to_string(),
        Bytes::Stream => Path::new(&name).with_extension("vhd").display().to_string(),
    };
    format!("imgtool/{name}")
}

/// Open and check every data disk; `system_object` is the system disk's object, which no
/// data disk may share. The plans, and the images in the same order.
pub fn open(paths: &[PathBuf], system_object: &str) -> Result<(Vec<DataDisk>, Vec<Image>)> {
    if paths.len() > MAX_DATA_DISKS {
        return Err(Error::Usage(format!(
            "{} data disks given; ImportImage takes at most {MAX_DATA_DISKS} \
             (DiskDeviceMapping.2..17; the service silently drops the rest)",
            paths.len()
        )));
    }
    let mut disks: Vec<DataDisk> = Vec::new();
    let mut images = Vec::new();
    for path in paths {
        let image = image::open(path)?;
        let facts = image_facts(path, &image, None)?;
        let object = plan::check_object(&default_object(path, facts.sending.bytes))?;
        if object == system_object || disks.iter().any(|d| d.object == object) {
            return Err(Error::Usage(format!(
                "{}: its object {object} is already another disk's; give each disk a file \
                 name of its own",
                path.display()
            )));
        }
        let disk_image_size = plan::size_floor_gib(&facts)?;
        if !(MIN_DISK_GIB..=MAX_DISK_GIB).contains(&disk_image_size) {
            return Err(Error::Usage(format!(
                "{}: a data disk of {disk_image_size} GiB is outside {MIN_DISK_GIB}..{MAX_DISK_GIB} \
                 GiB (the API would answer InvalidDataDiskSize)",
                path.display()
            )));
        }
        disks.push(DataDisk {
            path: path.clone(),
            facts,
            object,
            disk_image_size,
        });
        images.push(image);
    }
    Ok((disks, images))
}

/// `DiskDeviceMapping.N.*` for N = 2.. in the order given.
pub fn params(disks: &[DataDisk], bucket: &str) -> Vec<(String, String)> {
    let mut p = Vec::new();
    for (i, d) in disks.iter().enumerate() {
        let n = i + 2;
        p.push((
            format!("DiskDeviceMapping.{n}.Format"),
            d.facts.format.api_name().to_string(),
        ));
        p.push((
            format!("DiskDeviceMapping.{n}.OSSBucket"),
            bucket.to_string(),
        ));
        p.push((format!("DiskDeviceMapping.{n}.OSSObject"), d.object.clone()));
        p.push((
            format!("DiskDeviceMapping.{n}.DiskImageSize"),
            d.disk_image_size.to_string(),
        ));
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn more_than_sixteen_are_refused_before_opening_any() {
        let paths: Vec<PathBuf> = (0..17)
            .map(|i| PathBuf::from(format!("/nonexistent/{i}")))
            .collect();
        let e = open(&paths, "imgtool/sys.raw")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("at most 16"), "{e}");
    }

    #[test]
    fn numbering_and_objects() {
        let dir = tempfile::tempdir().unwrap();
        let mut paths = Vec::new();
        for name in ["a.raw", "b.raw"] {
            let p = dir.path().join(name);
            std::fs::File::create(&p).unwrap().set_len(3 << 30).unwrap();
            paths.push(p);
        }
        // Empty sparse RAWs go up as the (tiny) streamed VHD of their disk, named .vhd; the
        // DiskImageSize is the virtual disk's.
        let (disks, _) = open(&paths, "imgtool/sys.raw").unwrap();
        let p = params(&disks, "bkt");
        assert_eq!(p[0], ("DiskDeviceMapping.2.Format".into(), "VHD".into()));
        assert_eq!(
            p[2],
            (
                "DiskDeviceMapping.2.OSSObject".into(),
                "imgtool/a.vhd".into()
            )
        );
        assert_eq!(
            p[3],
            ("DiskDeviceMapping.2.DiskImageSize".into(), "3".into())
        );
        assert_eq!(
            p[6],
            (
                "DiskDeviceMapping.3.OSSObject".into(),
                "imgtool/b.vhd".into()
            )
        );
        // The system disk's object cannot be a data disk's too.
        assert!(open(&paths[..1], "imgtool/a.vhd").is_err());
        assert!(open(&[paths[0].clone(), paths[0].clone()], "imgtool/sys.raw").is_err());
    }
}
