//! One sentence for a store that cannot be opened: permission denied, or a file that is
//! not a hooktap store, said once rather than repeated down the error chain.

use std::path::Path;

use rusqlite::ErrorCode;

/// What kind of failure the chain of `err` shows, if it is one a user can fix.
#[derive(Debug, PartialEq, Eq)]
enum Cause {
    PermissionDenied,
    NotADatabase,
}

fn cause(err: &anyhow::Error, path: &Path, write: bool) -> Option<Cause> {
    for link in err.chain() {
        if let Some(io) = link.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::PermissionDenied
        {
            return Some(Cause::PermissionDenied);
        }
        if let Some(rusqlite::Error::SqliteFailure(failure, _)) =
            link.downcast_ref::<rusqlite::Error>()
        {
            match failure.code {
                ErrorCode::NotADatabase => return Some(Cause::NotADatabase),
                ErrorCode::PermissionDenied | ErrorCode::ReadOnly => {
                    return Some(Cause::PermissionDenied);
                }
                // SQLite says only "unable to open database file": ask the file system why.
                ErrorCode::CannotOpen if denied(path, write) => {
                    return Some(Cause::PermissionDenied);
                }
                _ => {}
            }
        }
    }
    None
}

/// True when opening `path` (or creating it in its folder) is refused for permissions.
fn denied(path: &Path, write: bool) -> bool {
    let probe = std::fs::OpenOptions::new()
        .read(true)
        .write(write)
        .open(path);
    match probe {
        Err(e) => e.kind() == std::io::ErrorKind::PermissionDenied,
        Ok(_) => false,
    }
}

/// `err` as one sentence when it is a permission or a not-a-store failure on `path`;
/// otherwise `err` unchanged. `write`: the store was opened for writing.
pub(super) fn explain(path: &Path, write: bool, err: anyhow::Error) -> anyhow::Error {
    let path_text = path.display();
    match cause(&err, path, write) {
        Some(Cause::PermissionDenied) if write => anyhow::anyhow!(
            "could not open the store {path_text}: permission denied; pass a --store path you can write, or fix the file's permissions"
        ),
        Some(Cause::PermissionDenied) => anyhow::anyhow!(
            "could not open the store {path_text}: permission denied; pass a --store path you can read, or fix the file's permissions"
        ),
        Some(Cause::NotADatabase) => anyhow::anyhow!(
            "{path_text} is not a hooktap store (not an SQLite database): pass the file `listen` used as --store"
        ),
        None => err,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn permission_denied_is_said_once() {
        let io = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let err = anyhow::Error::new(io).context("could not create /x/s.db: permission denied");
        let text = format!("{:#}", explain(Path::new("/x/s.db"), true, err));
        assert_eq!(
            text.to_lowercase().matches("permission denied").count(),
            1,
            "{text}"
        );
        assert!(text.contains("--store"), "{text}");

        let sqlite = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_READONLY),
            Some("attempt to write a readonly database".into()),
        );
        let err = Err::<(), _>(sqlite).context("could not open").unwrap_err();
        let text = format!("{:#}", explain(Path::new("/x/s.db"), true, err));
        assert!(text.contains("permission denied"), "{text}");
    }

    #[test]
    fn a_file_that_is_not_a_database_is_one_sentence() {
        let sqlite = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_NOTADB),
            Some("file is not a database".into()),
        );
        let err = Err::<(), _>(sqlite)
            .context("the file is not a hooktap store (not an SQLite database)")
            .unwrap_err();
        let text = format!("{:#}", explain(Path::new("g.db"), false, err));
        assert_eq!(
            text,
            "g.db is not a hooktap store (not an SQLite database): pass the file `listen` used as --store"
        );
    }
}
