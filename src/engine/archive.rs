//! The tar archives jenv handles itself: one folder entry to upload, a build context (a folder
//! as it is), and a file downloaded from a container.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context, Result};

/// The contents of the first file in a tar archive.
pub(super) fn first_file_of_tar(tar: &[u8]) -> Option<Vec<u8>> {
    let header = tar.get(..512)?;
    let size_field = std::str::from_utf8(&header[124..136]).ok()?;
    let size = usize::from_str_radix(size_field.trim_matches(|c: char| c == '\0' || c == ' '), 8).ok()?;
    tar.get(512..512 + size).map(<[u8]>::to_vec)
}

/// A tar archive holding one directory entry, `path` (absolute) owned by `uid:gid`, mode 0755.
pub(super) fn directory_tar(path: &str, uid: u32, gid: u32) -> Result<Vec<u8>> {
    let name = format!("{}/", path.trim_matches('/'));
    anyhow::ensure!(name.len() < 100 && name != "/", "`{path}` does not fit a tar header");
    let mtime = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let entry = Entry { name: &name, kind: b'5', mode: 0o755, uid, gid, size: 0, mtime, link: "" };
    let mut tar = header(&entry)?.to_vec();
    tar.extend([0u8; 1024]); // two empty blocks end the archive
    Ok(tar)
}

/// A tar archive of regular files, each `(name, contents)`, mode 0644.
pub(super) fn files_tar(files: &[(&str, &[u8])]) -> Result<Vec<u8>> {
    let mut tar = Vec::new();
    for (name, data) in files {
        let size = data.len() as u64;
        let entry = Entry { name, kind: b'0', mode: 0o644, uid: 0, gid: 0, size, mtime: 0, link: "" };
        tar.extend(header(&entry)?);
        tar.extend(*data);
        tar.resize(tar.len().next_multiple_of(512), 0);
    }
    tar.extend([0u8; 1024]); // two empty blocks end the archive
    Ok(tar)
}

/// A tar archive of everything in `dir` (files, folders and symlinks, as they are), the build
/// context the engine receives; paths are relative to `dir`.
pub(super) fn context_tar(dir: &Path) -> Result<Vec<u8>> {
    let mut tar = Vec::new();
    add_folder(&mut tar, dir, "")?;
    tar.extend([0u8; 1024]); // two empty blocks end the archive
    Ok(tar)
}

fn add_folder(tar: &mut Vec<u8>, dir: &Path, prefix: &str) -> Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .collect::<std::io::Result<_>>()
        .with_context(|| format!("cannot read {}", dir.display()))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
        let meta = fs::symlink_metadata(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let mode = meta.permissions().mode() & 0o7777;
        let mtime = u64::try_from(meta.mtime()).unwrap_or(0);
        if meta.file_type().is_symlink() {
            let target = fs::read_link(&path)?.to_string_lossy().into_owned();
            let entry = Entry { name: &name, kind: b'2', mode, uid: 0, gid: 0, size: 0, mtime, link: &target };
            tar.extend(header(&entry)?);
        } else if meta.is_dir() {
            let folder = format!("{name}/");
            let entry = Entry { name: &folder, kind: b'5', mode, uid: 0, gid: 0, size: 0, mtime, link: "" };
            tar.extend(header(&entry)?);
            add_folder(tar, &path, &folder)?;
        } else if meta.is_file() {
            let data = fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            let size = data.len() as u64;
            let entry = Entry { name: &name, kind: b'0', mode, uid: 0, gid: 0, size, mtime, link: "" };
            tar.extend(header(&entry)?);
            tar.extend(&data);
            tar.resize(tar.len().next_multiple_of(512), 0);
        }
        // Sockets, fifos and devices have no place in a build context.
    }
    Ok(())
}

/// One archive member, as its header block describes it.
struct Entry<'a> {
    name: &'a str,
    /// `0` file, `2` symlink, `5` directory.
    kind: u8,
    mode: u32,
    uid: u32,
    gid: u32,
    size: u64,
    mtime: u64,
    link: &'a str,
}

/// One ustar header block; a name over 100 bytes is split into the prefix field at a `/`.
fn header(entry: &Entry) -> Result<[u8; 512]> {
    let name = entry.name;
    let (prefix, short) = split_name(name).with_context(|| format!("`{name}` does not fit a tar header"))?;
    anyhow::ensure!(entry.link.len() <= 100, "the link target of `{name}` does not fit a tar header");
    let mut block = [0u8; 512];
    let mut put = |offset: usize, field: &[u8]| block[offset..offset + field.len()].copy_from_slice(field);
    put(0, short.as_bytes());
    put(100, format!("{:07o}\0", entry.mode).as_bytes());
    put(108, format!("{:07o}\0", entry.uid).as_bytes());
    put(116, format!("{:07o}\0", entry.gid).as_bytes());
    put(124, format!("{:011o}\0", entry.size).as_bytes());
    put(136, format!("{:011o}\0", entry.mtime).as_bytes());
    put(148, b"        "); // the checksum counts itself as spaces
    put(156, &[entry.kind]);
    put(157, entry.link.as_bytes());
    put(257, b"ustar\0");
    put(263, b"00");
    put(345, prefix.as_bytes());
    let checksum: u32 = block.iter().map(|&b| u32::from(b)).sum();
    block[148..156].copy_from_slice(format!("{checksum:06o}\0 ").as_bytes());
    Ok(block)
}

/// `name` as the header's prefix and name fields hold it: the split falls on a `/` with at
/// most 155 bytes before it and 100 after.
fn split_name(name: &str) -> Option<(&str, &str)> {
    if name.len() <= 100 {
        return Some(("", name));
    }
    let trimmed = name.trim_end_matches('/');
    let (at, _) = trimmed.char_indices().rfind(|(i, c)| *c == '/' && *i <= 155)?;
    let (prefix, rest) = (&name[..at], &name[at + 1..]);
    (rest.len() <= 100 && !rest.is_empty()).then_some((prefix, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_tar_is_one_valid_ustar_entry() {
        let tar = directory_tar("/home/jovyan", 1234, 100).unwrap();
        assert_eq!(tar.len(), 512 + 1024);
        assert_eq!(&tar[..13], b"home/jovyan/\0");
        assert_eq!(&tar[108..116], b"0002322\0");
        assert_eq!(&tar[116..124], b"0000144\0");
        assert_eq!(tar[156], b'5');
        let stored = std::str::from_utf8(&tar[148..154]).unwrap();
        let mut blank = tar[..512].to_vec();
        blank[148..156].copy_from_slice(b"        ");
        let sum: u32 = blank.iter().map(|&b| u32::from(b)).sum();
        assert_eq!(u32::from_str_radix(stored, 8).unwrap(), sum);
        assert!(directory_tar("/", 1, 1).is_err());
    }

    #[test]
    fn files_tar_holds_each_file_padded_to_blocks() {
        let tar = files_tar(&[("config.json", b"{}"), ("manifest.json", b"[]")]).unwrap();
        assert_eq!(tar.len(), 4 * 512 + 1024);
        assert_eq!(first_file_of_tar(&tar).unwrap(), b"{}");
        assert_eq!(&tar[1024..1037], b"manifest.json");
        assert_eq!(&tar[1536..1538], b"[]");
    }

    /// (name, type, size, link) of each entry, read back as an engine would.
    fn entries(tar: &[u8]) -> Vec<(String, u8, usize, String)> {
        let text = |field: &[u8]| String::from_utf8_lossy(field).trim_end_matches('\0').to_string();
        let mut out = Vec::new();
        let mut at = 0;
        while at + 512 <= tar.len() && tar[at] != 0 {
            let block = &tar[at..at + 512];
            let size = usize::from_str_radix(text(&block[124..135]).trim(), 8).unwrap();
            let stored = u32::from_str_radix(text(&block[148..154]).trim(), 8).unwrap();
            let mut blank = block.to_vec();
            blank[148..156].copy_from_slice(b"        ");
            assert_eq!(
                stored,
                blank.iter().map(|&b| u32::from(b)).sum::<u32>(),
                "checksum of {:?}",
                text(&block[..100])
            );
            let prefix = text(&block[345..500]);
            let name =
                if prefix.is_empty() { text(&block[..100]) } else { format!("{prefix}/{}", text(&block[..100])) };
            out.push((name, block[156], size, text(&block[157..257])));
            at += 512 + size.next_multiple_of(512);
        }
        assert_eq!(&tar[at..], &[0u8; 1024][..], "two empty blocks end it");
        out
    }

    #[test]
    fn the_context_holds_the_folder_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("Dockerfile"), "FROM x\n").unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        fs::write(dir.path().join("sub/requirements.txt"), "a==1\n").unwrap();
        std::os::unix::fs::symlink("sub/requirements.txt", dir.path().join("link")).unwrap();
        let deep = format!("{}/{}", "d".repeat(90), "f".repeat(60));
        fs::create_dir(dir.path().join("d".repeat(90))).unwrap();
        fs::write(dir.path().join(&deep), "x").unwrap();
        let tar = context_tar(dir.path()).unwrap();
        let found = entries(&tar);
        let names: Vec<(&str, u8)> = found.iter().map(|(n, k, _, _)| (n.as_str(), *k)).collect();
        let dir_d = format!("{}/", "d".repeat(90));
        assert_eq!(
            names,
            [
                ("Dockerfile", b'0'),
                (dir_d.as_str(), b'5'),
                (deep.as_str(), b'0'),
                ("link", b'2'),
                ("sub/", b'5'),
                ("sub/requirements.txt", b'0')
            ]
        );
        assert_eq!(found[0].2, 7);
        assert_eq!(found[3].3, "sub/requirements.txt");
        let start = tar.windows(7).position(|w| w == b"FROM x\n").unwrap();
        assert_eq!(start % 512, 0, "file data starts on a block");
    }

    #[test]
    fn names_too_long_for_ustar_are_refused() {
        assert!(split_name(&"a".repeat(101)).is_none());
        assert_eq!(split_name("a/b"), Some(("", "a/b")));
        let long = format!("{}/{}", "p".repeat(150), "n".repeat(100));
        assert_eq!(split_name(&long), Some((&long[..150], &long[151..])));
        let too_long = format!("{}/{}", "p".repeat(150), "n".repeat(101));
        let entry = Entry { name: &too_long, kind: b'0', mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 0, link: "" };
        assert!(header(&entry).is_err());
    }
}
