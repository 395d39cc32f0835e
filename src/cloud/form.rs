//! The one rule for what goes up: which ImportImage format an image is sent as, and why.

use super::plan::Format;
use crate::error::{Error, Result};
use crate::image::{Image, Kind};

/// The format ImportImage is told for `img`, and the reason in words. A file that does not
/// hold the whole disk alone (a differencing chain) cannot go up as it is, so it goes up as
/// RAW, read through the chain while uploading. `asked` is `--format`.
pub fn import_format(img: &Image, asked: Option<&str>) -> Result<(Format, String)> {
    let native = match img.kind() {
        Kind::Raw => Format::Raw,
        Kind::Vhd => Format::Vhd,
        Kind::Qcow2 => Format::Qcow2,
        // ImportImage takes no VHDX: it goes up as RAW read through the reader. Hook for the
        // streamed dynamic VHD (issue 14): map it to Format::Vhd once the upload can produce one.
        Kind::Vhdx => Format::Raw,
        // ImportImage takes VMDK only as an invitational preview: never sent as VMDK. It goes
        // up as RAW read through the VMDK reader. Hook for issue 14: when the streamed dynamic
        // VHD writer lands, return Format::Vhd here (sent through that writer).
        Kind::Vmdk => Format::Raw,
    };
    let path = img.file().path().display();
    match asked {
        Some("raw") => Ok((Format::Raw, "--format raw".into())),
        Some("vhd") if native != Format::Vhd => Err(Error::Usage(format!(
            "{path}: --format vhd, but the file is {}; leave out --format",
            img.describe()
        ))),
        Some("vhd") if !img.self_contained() => Err(Error::Usage(format!(
            "{path}: a differencing VHD holds only the changes to its parent, and ECS cannot import it \
             as it is; leave out --format (or pass --format raw) to upload the whole chain as RAW"
        ))),
        Some(other) if other != "vhd" => Err(Error::Usage(format!(
            "{path}: --format {other}: expected raw or vhd"
        ))),
        _ if !img.self_contained() => Ok((
            Format::Raw,
            format!(
                "{} is imported as RAW (ECS cannot take the chain itself)",
                img.describe()
            ),
        )),
        _ if img.kind() == Kind::Vmdk => Ok((
            Format::Raw,
            format!(
                "the file is {}; ImportImage takes VMDK only as a preview, so it is imported as \
                 RAW, read through imgtool's VMDK reader while uploading",
                img.describe()
            ),
        )),
        _ if img.kind() == Kind::Vhdx => Ok((
            native,
            format!(
                "the file is {}, which ECS does not import: sent as RAW, read through imgtool's VHDX reader",
                img.describe()
            ),
        )),
        // Hook for issue 14: once the streamed dynamic VHD exists, send that here instead of
        // RAW (and prefer it to a native upload when it is smaller).
        _ => match img.upload_obstacle() {
            Some(why) => Ok((
                Format::Raw,
                format!("{why}: imported as RAW, read through imgtool's reader"),
            )),
            None => Ok((native, format!("the file is {}", img.describe()))),
        },
    }
}

/// Whether the upload reads the disk through the image's reader (and sends RAW bytes) rather
/// than sending the file as it is.
pub fn converted_while_uploading(img: &Image, format: Format) -> bool {
    img.kind() != Kind::Raw && format == Format::Raw
}
