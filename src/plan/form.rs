//! The one rule for what goes up: which ImportImage format an image is sent as, and why.

use super::sent::{Bytes, Sending, identity_for};
use super::vocab::ImageFormat;
use crate::convert::VhdStream;
use crate::error::{Error, Result};
use crate::image::{Image, Kind};

/// The kinds of file ImportImage takes as they are, and the format it is told for each. Any
/// other kind (VHDX, which it does not take at all; VMDK, only an invitational preview, never
/// chosen) goes up as RAW read through imgtool's reader, or as the streamed dynamic VHD where
/// that is smaller ([`sending`]): a new format needs no line here unless the API takes it.
const AS_IS: [(Kind, ImageFormat); 3] = [
    (Kind::Raw, ImageFormat::Raw),
    (Kind::Vhd, ImageFormat::Vhd),
    (Kind::Qcow2, ImageFormat::Qcow2),
];

/// What ImportImage takes `img`'s file as, when it takes it as it is.
fn native(img: &Image) -> Option<ImageFormat> {
    AS_IS
        .iter()
        .find(|(k, _)| *k == img.kind())
        .map(|&(_, f)| f)
}

/// The streamed VHD is chosen when it is smaller than the other way by at least one of its
/// 2 MiB blocks: a dynamic VHD whose blocks are already compact goes up as it is.
const STREAM_MARGIN: u64 = 2 << 20;

/// What goes up for `img` when nothing is asked: the streamed compact dynamic VHD of the
/// disk (Format VHD) whenever it is smaller than what [`import_format`] would send (the file
/// as it is, or the disk as RAW) by at least one block; else what [`import_format`] says. A
/// self-contained QCOW2 that goes up as it is keeps that rule, and `--format` is obeyed as
/// it is. `fingerprint` and `timestamp` identify the file (size, mtime, id): they fix the
/// stream's identity, so the same file gives the same bytes on every run. The stream is
/// built here to learn its size (its zero scan reads the disk's data once).
pub fn sending(
    img: &Image,
    asked: Option<ImageFormat>,
    file_size: u64,
    fingerprint: &str,
    timestamp: u32,
) -> Result<(ImageFormat, Sending)> {
    let (format, why) = import_format(img, asked)?;
    let plain_bytes = if converted_while_uploading(img, format) {
        Bytes::Raw
    } else {
        Bytes::File
    };
    let plain = Sending::plain(plain_bytes, file_size, img.size(), why);
    if asked.is_some() {
        return Ok((format, plain));
    }
    // A qcow2 ImportImage cannot take as it is (a backing file, zstd...) goes up as the
    // stream even when that is not smaller than RAW: never RAW unless asked (issue 15).
    let never_raw = native(img) == Some(ImageFormat::Qcow2) && plain_bytes == Bytes::Raw;
    let identity = identity_for(fingerprint, timestamp);
    let stream = match VhdStream::new(img, identity) {
        Ok(s) => s,
        // A disk a VHD cannot hold (not whole sectors, above 2040 GiB): the other way.
        Err(Error::Usage(no)) => {
            let why = format!("{}; not as a streamed VHD: {no}", plain.why);
            return Ok((format, Sending { why, ..plain }));
        }
        Err(e) => return Err(e),
    };
    let len = stream.len();
    if !never_raw && len.saturating_add(STREAM_MARGIN) > plain.object_size {
        let why = format!(
            "{}; a streamed dynamic VHD ({len} bytes) would not be smaller",
            plain.why
        );
        return Ok((format, Sending { why, ..plain }));
    }
    let why = format!(
        "the file is {}: sent as a dynamic VHD of its {} data blocks, generated while \
         uploading ({len} bytes instead of {} as {})",
        img.describe(),
        stream.blocks(),
        plain.object_size,
        if plain_bytes == Bytes::File {
            "the file"
        } else {
            "RAW"
        }
    );
    Ok((
        ImageFormat::Vhd,
        Sending {
            bytes: Bytes::Stream,
            object_size: len,
            file_size,
            virtual_size: img.size(),
            identity: Some(identity),
            why,
        },
    ))
}

/// The format ImportImage is told for `img`, and the reason in words. A file that does not
/// hold the whole disk alone (a differencing chain) cannot go up as it is, so it goes up as
/// RAW, read through the chain while uploading. `asked` is `--format`: the format
/// asked for, refused where the file cannot go up so.
pub fn import_format(img: &Image, asked: Option<ImageFormat>) -> Result<(ImageFormat, String)> {
    let native = native(img);
    let path = img.file().path().display();
    match asked {
        Some(ImageFormat::Raw) => Ok((ImageFormat::Raw, "--format raw".into())),
        Some(ImageFormat::Vhd) if native != Some(ImageFormat::Vhd) => Err(Error::Usage(format!(
            "{path}: --format vhd, but the file is {}; leave out --format",
            img.describe()
        ))),
        Some(ImageFormat::Vhd) if !img.self_contained() => Err(Error::Usage(format!(
            "{path}: a differencing VHD holds only the changes to its parent, and ECS cannot import it \
             as it is; leave out --format (or pass --format raw) to upload the whole chain as RAW"
        ))),
        Some(ImageFormat::Qcow2) => qcow2_as_is(img),
        // `--format vhd` of a self-contained VHD: the rule below, as when nothing is asked.
        _ if !img.self_contained() => Ok((
            ImageFormat::Raw,
            format!(
                "{} is imported as RAW (ECS cannot take the chain itself)",
                img.describe()
            ),
        )),
        _ => match (native, img.upload_obstacle()) {
            (None, _) => Ok((
                ImageFormat::Raw,
                format!(
                    "the file is {}, which ImportImage does not take as it is (VHDX not at all, \
                     VMDK only as a preview): imported as RAW, read through imgtool's reader",
                    img.describe()
                ),
            )),
            (Some(_), Some(why)) => Ok((
                ImageFormat::Raw,
                format!("{why}: imported as RAW, read through imgtool's reader"),
            )),
            (Some(f), None) => Ok((f, format!("the file is {}", img.describe()))),
        },
    }
}

/// `--format qcow2`: the file goes up as it is, as QCOW2, whatever the rule would choose, when
/// it is a qcow2 that holds the whole disk alone (no backing file, no external data file;
/// encrypted ones never open). Anything else is refused, saying what it is.
fn qcow2_as_is(img: &Image) -> Result<(ImageFormat, String)> {
    let path = img.file().path().display();
    if native(img) != Some(ImageFormat::Qcow2) {
        return Err(Error::Usage(format!(
            "{path}: --format qcow2, but the file is {}, not a qcow2 image; leave out --format",
            img.describe()
        )));
    }
    if !img.self_contained() {
        return Err(Error::Usage(format!(
            "{path}: --format qcow2 uploads the file as it is, but it is {}, which does not \
             hold the whole disk alone; leave out --format to upload the disk read through \
             the chain",
            img.describe()
        )));
    }
    let mut why = "--format qcow2: the qcow2 file goes up as it is".to_string();
    if let Some(obstacle) = img.upload_obstacle() {
        why.push_str(&format!(
            " (asked for, although {obstacle} and would otherwise go up read through imgtool's reader)"
        ));
    }
    Ok((ImageFormat::Qcow2, why))
}

/// Whether the upload reads the disk through the image's reader (and sends RAW bytes) rather
/// than sending the file as it is.
pub fn converted_while_uploading(img: &Image, format: ImageFormat) -> bool {
    native(img) != Some(ImageFormat::Raw) && format == ImageFormat::Raw
}
