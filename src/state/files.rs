//! Reading and writing the small files jenv keeps: a file that may be missing, a write no reader
//! sees half done, a removal of what may be gone already, a folder only the user may enter.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context, Result};

/// The text of `path`, or `None` when there is no such file. Other failures (permissions) are
/// the caller's to judge.
pub fn read_optional(path: &Path) -> io::Result<Option<String>> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err),
    }
}

/// [`read_optional`], any other failure an error naming the file.
pub fn read_text(path: &Path) -> Result<Option<String>> {
    read_optional(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Writes `bytes` to `path` so that readers see either the old or the new file, never a part:
/// a private (0600) temp file beside it, fsync, rename over, fsync the folder.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().context("state path has no parent")?;
    let tmp = dir.join(format!(".{}.tmp{}", path.file_name().unwrap().to_string_lossy(), std::process::id()));
    let result = (|| -> io::Result<()> {
        let mut file = OpenOptions::new().create(true).write(true).truncate(true).mode(0o600).open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot write {}", path.display()))
}

/// [`write_atomic`] for a file shared with the project, like the manifest: readable by all (0644).
pub fn write_shared(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic(path, bytes)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o644))
        .with_context(|| format!("cannot make {} readable", path.display()))
}

/// Removes the file `path`; one already gone is fine.
pub fn remove_if_exists(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => {
            Err(err).with_context(|| format!("cannot remove {}", path.display()))
        }
        _ => Ok(()),
    }
}

/// Creates the folder `path` (and missing parents) for the user alone (0700).
pub fn private_dir(path: &Path) -> Result<()> {
    create_private_dir(path).with_context(|| format!("cannot create {}", path.display()))
}

pub(super) fn create_private_dir(path: &Path) -> io::Result<()> {
    fs::DirBuilder::new().recursive(true).mode(0o700).create(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_files_are_none_and_removing_one_twice_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b");
        private_dir(&path).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o700);
        let file = path.join("f");
        assert_eq!(read_text(&file).unwrap(), None);
        write_atomic(&file, b"x").unwrap();
        assert_eq!(fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(read_text(&file).unwrap().as_deref(), Some("x"));
        write_shared(&file, b"y").unwrap();
        assert_eq!(fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o644);
        remove_if_exists(&file).unwrap();
        remove_if_exists(&file).unwrap();
        assert_eq!(read_optional(&file).unwrap(), None);
    }
}
