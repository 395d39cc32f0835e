//! The resume record of a multipart upload: enough to find the upload again (upload id,
//! bucket, key, endpoint host), to know it is still the same upload of the same bytes (part
//! size, the source's identity), and what has been sent. It never holds a credential.
//!
//! Kept under `$XDG_CACHE_HOME/imgtool/uploads/` (else `~/.cache/imgtool/uploads/`), named by
//! a hash of bucket, key and identity, and written atomically (temporary file + rename) so a
//! kill at any moment leaves the old record or the new one, never half of one.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

use super::settings::Env;
use crate::error::{Error, Result};

/// A record larger than this is not ours (10000 parts are well under 2 MiB).
const MAX_STATE: u64 = 4 << 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DonePart {
    pub number: u32,
    pub etag: String,
    pub crc64: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub version: u32,
    pub endpoint_host: String,
    pub bucket: String,
    pub key: String,
    pub upload_id: String,
    pub part_size: u64,
    pub size: u64,
    /// Size, mtime and (VHD) unique id of the file, and how its bytes are produced.
    pub identity: String,
    pub parts: Vec<DonePart>,
}

impl State {
    /// Same upload of the same bytes, cut the same way.
    pub fn matches(&self, other: &State) -> bool {
        self.version == other.version
            && self.endpoint_host == other.endpoint_host
            && self.bucket == other.bucket
            && self.key == other.key
            && self.part_size == other.part_size
            && self.size == other.size
            && self.identity == other.identity
    }
}

/// `$XDG_CACHE_HOME/imgtool/uploads`, else `$HOME/.cache/imgtool/uploads`.
pub fn dir(env: Env<'_>) -> Option<PathBuf> {
    let base = env("XDG_CACHE_HOME")
        .filter(|v| Path::new(v).is_absolute())
        .map(PathBuf::from)
        .or_else(|| {
            env("HOME")
                .filter(|h| !h.is_empty())
                .map(|h| PathBuf::from(h).join(".cache"))
        })?;
    Some(base.join("imgtool").join("uploads"))
}

/// The record's file for this bucket, key and source identity.
pub fn path(dir: &Path, bucket: &str, key: &str, identity: &str) -> PathBuf {
    let mut h = Sha1::new();
    for part in [bucket, key, identity] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    dir.join(format!("{hex}.json"))
}

/// The record at `path`, if there is a readable one. A damaged record is treated as none:
/// the worst outcome is re-sending parts.
pub fn load(path: &Path) -> Option<State> {
    let meta = std::fs::metadata(path).ok()?;
    if meta.len() > MAX_STATE {
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

pub fn save(path: &Path, s: &State) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    create_private_dir(dir)?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let text = serde_json::to_string_pretty(s).map_err(|e| Error::Failed(e.to_string()))?;
    let mut f = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

pub fn remove(path: &Path) {
    let _ = std::fs::remove_file(path);
}

fn create_private_dir(dir: &Path) -> Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir).map_err(|e| Error::io(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> State {
        State {
            version: 1,
            endpoint_host: "127.0.0.1:1".into(),
            bucket: "b".into(),
            key: "k".into(),
            upload_id: "U".into(),
            part_size: 1 << 20,
            size: 5 << 20,
            identity: "size=1".into(),
            parts: vec![DonePart {
                number: 1,
                etag: "\"E\"".into(),
                crc64: 7,
            }],
        }
    }

    #[test]
    fn save_load_round_trip_and_no_temp_left() {
        let d = tempfile::tempdir().unwrap();
        let p = path(&d.path().join("x/y"), "b", "k", "id");
        save(&p, &sample()).unwrap();
        assert_eq!(load(&p), Some(sample()));
        let names: Vec<_> = std::fs::read_dir(p.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        std::fs::write(&p, "{not json").unwrap();
        assert_eq!(load(&p), None);
    }

    #[test]
    fn name_depends_on_bucket_key_and_identity() {
        let d = Path::new("/c");
        let a = path(d, "b", "k", "id");
        assert_ne!(a, path(d, "b", "k", "id2"));
        assert_ne!(a, path(d, "b2", "k", "id"));
        assert_ne!(path(d, "ab", "c", "i"), path(d, "a", "bc", "i"));
    }

    #[test]
    fn cache_dir_choice() {
        let env = |k: &str| match k {
            "HOME" => Some("/home/u".to_string()),
            _ => None,
        };
        assert_eq!(
            dir(&env),
            Some(PathBuf::from("/home/u/.cache/imgtool/uploads"))
        );
        let env = |k: &str| match k {
            "HOME" => Some("/home/u".to_string()),
            "XDG_CACHE_HOME" => Some("/xdg".to_string()),
            _ => None,
        };
        assert_eq!(dir(&env), Some(PathBuf::from("/xdg/imgtool/uploads")));
    }
}
