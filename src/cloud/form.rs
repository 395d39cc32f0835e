//! The one rule for what goes up: which ImportImage format an image is sent as, and why.

use super::plan::Format;
use crate::error::{Error, Result};
use crate::image::{Image, Kind};

/// The format ImportImage is told for `img`, and the reason in words. A file that does not
/// hold the whole disk alone (a differencing chain) cannot go up as it is, so it goes up as
/// RAW, read through the chain while uploading. `asked` is `--format`.
pub fn import_format(img: &Image, asked: Option<&str>) -> Result<(Format, String)> {
    // What ImportImage takes the file as, when it takes it as it is. VHDX it does not take at
    // all, VMDK only as an invitational preview (never chosen): both go up as RAW read through
    // their reader. Hook for issue 14: send the streamed dynamic VHD instead of RAW there (and
    // wherever it is smaller than the file).
    let native = match img.kind() {
        Kind::Raw => Some(Format::Raw),
        Kind::Vhd => Some(Format::Vhd),
        Kind::Qcow2 => Some(Format::Qcow2),
        Kind::Vhdx | Kind::Vmdk => None,
    };
    let path = img.file().path().display();
    match asked {
        Some("raw") => Ok((Format::Raw, "--format raw".into())),
        Some("vhd") if native != Some(Format::Vhd) => Err(Error::Usage(format!(
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
        _ => match (native, img.upload_obstacle()) {
            (None, _) => Ok((
                Format::Raw,
                format!(
                    "the file is {}, which ImportImage does not take as it is (VHDX not at all, \
                     VMDK only as a preview): imported as RAW, read through imgtool's reader",
                    img.describe()
                ),
            )),
            (Some(_), Some(why)) => Ok((
                Format::Raw,
                format!("{why}: imported as RAW, read through imgtool's reader"),
            )),
            (Some(f), None) => Ok((f, format!("the file is {}", img.describe()))),
        },
    }
}

/// Whether the upload reads the disk through the image's reader (and sends RAW bytes) rather
/// than sending the file as it is.
pub fn converted_while_uploading(img: &Image, format: Format) -> bool {
    img.kind() != Kind::Raw && format == Format::Raw
}
