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
        Some("qcow2") => qcow2_as_is(img),
        Some(other) if other != "vhd" => Err(Error::Usage(format!(
            "{path}: --format {other}: expected raw, vhd or qcow2"
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

/// `--format qcow2`: the file goes up as it is, as QCOW2, whatever the rule would choose, when
/// it is a qcow2 that holds the whole disk alone (no backing file, no external data file;
/// encrypted ones never open). Anything else is refused, saying what it is.
fn qcow2_as_is(img: &Image) -> Result<(Format, String)> {
    let path = img.file().path().display();
    if img.kind() != Kind::Qcow2 {
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
    Ok((Format::Qcow2, why))
}

/// Whether the upload reads the disk through the image's reader (and sends RAW bytes) rather
/// than sending the file as it is.
pub fn converted_while_uploading(img: &Image, format: Format) -> bool {
    img.kind() != Kind::Raw && format == Format::Raw
}
