//! One error type for the library. Every variant that comes from a file names the file; every
//! variant that comes from a field names the field, its offset, what was found and what was
//! expected, so a user can look at the bytes themselves.

use std::io;
use std::path::{Path, PathBuf};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The operating system refused a read, write, open...
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A structure in a file holds a value it must not.
    #[error("{}: {field} at offset {offset} ({offset:#x}): found {found}, expected {expected}", path.display())]
    Malformed {
        path: PathBuf,
        offset: u64,
        field: String,
        found: String,
        expected: String,
    },
    /// The file is a kind of image we recognise but do not handle.
    #[error("{}: {what}", path.display())]
    Unsupported { path: PathBuf, what: String },
    /// A differencing chain cannot be followed (missing parent, id mismatch, cycle, depth).
    #[error("{}: {what}", path.display())]
    Chain { path: PathBuf, what: String },
    /// The arguments do not make sense together, or a value breaks a documented rule.
    #[error("{0}")]
    Usage(String),
    /// The work ran and the result is a failure the user must see (exit code 1, not 2).
    #[error("{0}")]
    Failed(String),
    /// Ctrl-C or SIGTERM stopped the work (exit code 130, as a shell reports it); the text
    /// says what was cleaned up and how to go on.
    #[error("{0}")]
    Interrupted(String),
}

impl Error {
    pub fn io(path: impl AsRef<Path>, source: io::Error) -> Self {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    pub fn malformed(
        path: impl AsRef<Path>,
        offset: u64,
        field: impl Into<String>,
        found: impl Into<String>,
        expected: impl Into<String>,
    ) -> Self {
        Error::Malformed {
            path: path.as_ref().to_path_buf(),
            offset,
            field: field.into(),
            found: found.into(),
            expected: expected.into(),
        }
    }

    /// The file the error is about, when it names one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Error::Io { path, .. }
            | Error::Malformed { path, .. }
            | Error::Unsupported { path, .. }
            | Error::Chain { path, .. } => Some(path),
            _ => None,
        }
    }

    /// The process exit code for this error: 1 for a failure the work reported, 130 for an
    /// interruption, 2 for everything that stopped the work (bad input, I/O, usage).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Failed(_) => 1,
            Error::Interrupted(_) => crate::sys::EXIT_INTERRUPTED,
            _ => 2,
        }
    }
}
