//! What an import puts in OSS: which bytes (the file as it is, the virtual disk as RAW, or
//! the streamed compact dynamic VHD), and their size next to the file's and the disk's.

use sha1::{Digest, Sha1};

use crate::convert::Identity;

/// Where the object's bytes come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bytes {
    /// The image file as it is.
    File,
    /// The virtual disk, read through imgtool's reader: RAW of the whole virtual size.
    Raw,
    /// The compact dynamic VHD of the virtual disk, generated while uploading: the blocks
    /// holding data plus a few KiB of metadata.
    Stream,
}

impl Bytes {
    /// The name in the plan and in JSON: `file`, `raw`, `vhd-stream`.
    pub fn name(self) -> &'static str {
        match self {
            Bytes::File => "file",
            Bytes::Raw => "raw",
            Bytes::Stream => "vhd-stream",
        }
    }
}

/// What goes up, decided before anything is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sending {
    pub bytes: Bytes,
    /// The object's size: what the upload sends when OSS has none of it yet.
    pub object_size: u64,
    /// The image file's size (the top file of a chain).
    pub file_size: u64,
    /// The virtual disk's size.
    pub virtual_size: u64,
    /// The stream's unique id and timestamp ([`Bytes::Stream`] only): derived from the
    /// file's identity, so a re-run generates the same bytes and resumes.
    pub identity: Option<Identity>,
    /// Why these bytes, in words.
    pub why: String,
}

impl Sending {
    /// The file itself or the disk as RAW, with no stream.
    pub fn plain(bytes: Bytes, file_size: u64, virtual_size: u64, why: String) -> Sending {
        Sending {
            bytes,
            object_size: if bytes == Bytes::File {
                file_size
            } else {
                virtual_size
            },
            file_size,
            virtual_size,
            identity: None,
            why,
        }
    }
}

/// The identity a stream of the source named by `fingerprint` gets: the unique id from a
/// SHA-1 of the fingerprint (as a name-based, version 5 style UUID), the timestamp given (the
/// source's modification time in VHD seconds is a good one). The same source gives the same
/// identity, hence the same bytes, on every run.
pub fn identity_for(fingerprint: &str, timestamp: u32) -> Identity {
    let digest = Sha1::digest(fingerprint.as_bytes());
    let mut unique_id = [0u8; 16];
    unique_id.copy_from_slice(&digest[..16]);
    unique_id[6] = (unique_id[6] & 0x0f) | 0x50;
    unique_id[8] = (unique_id[8] & 0x3f) | 0x80;
    Identity {
        unique_id,
        timestamp,
    }
}
