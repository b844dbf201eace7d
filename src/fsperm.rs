//! Files and folders only their owner can open: stores, queues and exports hold webhook
//! bodies and headers. Modes are given at creation (no process-wide umask, which would race
//! with other threads creating files).

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

/// Mode of the files hooktap creates.
pub const FILE_MODE: u32 = 0o600;
/// Mode of the folders hooktap creates.
pub const DIR_MODE: u32 = 0o700;

/// Creates `dir` and any missing parents with mode 0700 (existing ones are left alone).
pub fn create_dir_all(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
    builder.create(dir)
}

fn private(options: &mut OpenOptions) -> &mut OpenOptions {
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(options, FILE_MODE);
    options
}

/// Creates (or truncates) `path` for writing; a new file gets mode 0600.
pub fn create_file(path: &Path) -> io::Result<File> {
    private(OpenOptions::new().write(true).create(true).truncate(true)).open(path)
}

/// Makes sure `path` exists and can be written, creating it empty with mode 0600 if it
/// does not exist; an existing file's content is kept.
pub fn touch_file(path: &Path) -> io::Result<()> {
    private(OpenOptions::new().write(true).create(true).truncate(false))
        .open(path)
        .map(drop)
}

/// Sets mode 0600 on `path` if it exists (an older hooktap, or SQLite, may have made it
/// readable by others).
pub fn restrict(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        match std::fs::set_permissions(path, std::fs::Permissions::from_mode(FILE_MODE)) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn files_and_folders_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        create_dir_all(&nested).unwrap();
        assert_eq!(mode(&dir.path().join("a")), DIR_MODE);
        assert_eq!(mode(&nested), DIR_MODE);
        let file = nested.join("f");
        create_file(&file).unwrap();
        assert_eq!(mode(&file), FILE_MODE);
        let open = nested.join("g");
        std::fs::write(&open, b"x").unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
        touch_file(&open).unwrap();
        assert_eq!(std::fs::read(&open).unwrap(), b"x", "content kept");
        restrict(&open).unwrap();
        assert_eq!(mode(&open), FILE_MODE);
        restrict(&nested.join("missing")).unwrap();
    }
}
