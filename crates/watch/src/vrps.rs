//! The VRP file (`--vrps`), watched for changes: rpki-client and Routinator
//! rewrite theirs after every validation run, and a ROA that appears, changes or
//! goes must show as the routes' RPKI states change, live.
//!
//! [`VrpsFile::changed`] compares the file's modification time, size and inode
//! with what was seen last, so a rewrite in place and a rename over it both count.
//! The runner checks every [`VRPS_CHECK_SECS`] and reads a changed file off the
//! watch loop; a file that does not read or parse is logged and the VRPs in force
//! stay. A reader that caught a half-written file sees the write's end as one
//! more change, and reads again.

use blackout_bgp::Vrps;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// How often the file is looked at.
pub const VRPS_CHECK_SECS: u64 = 3;

/// What tells one version of the file from another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Signature {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

fn signature(path: &Path) -> std::io::Result<Signature> {
    let metadata = std::fs::metadata(path)?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&metadata);
    #[cfg(not(unix))]
    let inode = 0;
    Ok(Signature {
        modified: metadata.modified().ok(),
        len: metadata.len(),
        inode,
    })
}

/// The file, and the version of it last read.
pub(crate) struct VrpsFile {
    path: PathBuf,
    seen: Option<Signature>,
    /// The last failure to look at the file, so that it is logged once.
    missing: Option<String>,
}

impl VrpsFile {
    /// The file as it is now counts as read (the command line read it just before).
    pub(crate) fn new(path: PathBuf) -> Self {
        let seen = signature(&path).ok();
        VrpsFile {
            path,
            seen,
            missing: None,
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Has the file changed since it was last seen? A file that cannot be looked
    /// at (removed while it is replaced) has not; that is logged once.
    pub(crate) fn changed(&mut self) -> bool {
        match signature(&self.path) {
            Ok(now) => {
                self.missing = None;
                if self.seen == Some(now) {
                    return false;
                }
                self.seen = Some(now);
                true
            }
            Err(error) => {
                let text = error.to_string();
                if self.missing.as_deref() != Some(text.as_str()) {
                    tracing::warn!(
                        "cannot look at the VRP file {}: {text}; the VRPs in force stay",
                        self.path.display()
                    );
                    self.missing = Some(text);
                }
                false
            }
        }
    }
}

/// Reads and parses a VRP file (rpki-client or Routinator JSON).
pub(crate) fn read_vrps(path: &Path) -> Result<Vrps, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read it: {e}"))?;
    Vrps::from_json(&text).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rewrite_in_place_and_a_rename_over_it_are_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vrps.json");
        std::fs::write(&path, "{\"roas\": []}").unwrap();
        let mut file = VrpsFile::new(path.clone());
        assert!(!file.changed());
        std::fs::write(&path, "{\"roas\": [ ]}").unwrap();
        assert!(file.changed());
        assert!(!file.changed());
        let other = dir.path().join("next.json");
        std::fs::write(&other, "{\"roas\": [ ]}").unwrap();
        std::fs::rename(&other, &path).unwrap();
        assert!(file.changed());
        // Gone for a moment: no change, and the VRPs stay.
        std::fs::remove_file(&path).unwrap();
        assert!(!file.changed());
        assert!(read_vrps(&path).unwrap_err().contains("cannot read"));
        std::fs::write(&path, "not json").unwrap();
        assert!(file.changed());
        assert!(read_vrps(&path).is_err());
    }
}
