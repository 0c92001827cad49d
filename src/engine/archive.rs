//! The two tar archives jenv handles itself: one folder entry to upload, and a file downloaded
//! from a container.

use anyhow::Result;

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
    let mut header = [0u8; 512];
    let mut put = |offset: usize, field: &[u8]| header[offset..offset + field.len()].copy_from_slice(field);
    put(0, name.as_bytes());
    put(100, b"0000755\0");
    put(108, format!("{uid:07o}\0").as_bytes());
    put(116, format!("{gid:07o}\0").as_bytes());
    put(124, b"00000000000\0"); // size
    put(
        136,
        format!(
            "{:011o}\0",
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
        )
        .as_bytes(),
    );
    put(148, b"        "); // the checksum counts itself as spaces
    put(156, b"5"); // a directory
    put(257, b"ustar\0");
    put(263, b"00");
    let checksum: u32 = header.iter().map(|&b| u32::from(b)).sum();
    header[148..156].copy_from_slice(format!("{checksum:06o}\0 ").as_bytes());
    let mut tar = header.to_vec();
    tar.extend([0u8; 1024]); // two empty blocks end the archive
    Ok(tar)
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
}
