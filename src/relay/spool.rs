//! Spooling a sender's body to disk before it is queued: the body streams through a small
//! fixed buffer into a private file under the queue's folder, against a [`Reservation`]
//! taken before the first byte is read, so memory held for senders stays bounded however
//! many large bodies arrive at once. No lock is held while the body is read.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http_body::Body as HttpBody;
use http_body_util::BodyExt;
use tokio::io::AsyncWriteExt;

use super::room::{Refused, Reservation};
use crate::web::body::BoxError;

/// Bytes buffered per request while its body streams to a spool file.
pub const SPOOL_BUFFER: usize = 64 * 1024;

/// The folder of spool files; files left by a crash are removed when it is opened.
#[derive(Debug)]
pub struct SpoolDir {
    dir: PathBuf,
    /// Removed when dropped (a memory-only queue's temporary folder).
    temporary: bool,
    next: AtomicU64,
}

impl SpoolDir {
    /// `<data-dir>/spool`, emptied; or a private temporary folder without a data dir.
    pub fn open(data_dir: Option<&Path>) -> anyhow::Result<Self> {
        let (dir, temporary) = match data_dir {
            Some(dir) => (dir.join("spool"), false),
            None => (
                std::env::temp_dir().join(format!(
                    "hooktap-spool-{}-{}",
                    std::process::id(),
                    hex::encode(rand::random::<[u8; 6]>())
                )),
                true,
            ),
        };
        if dir.exists() {
            // Bodies of requests that were never answered 202: nothing to keep.
            let _ = std::fs::remove_dir_all(&dir);
        }
        crate::fsperm::create_dir_all(&dir).map_err(|err| {
            anyhow::anyhow!(
                "could not create the relay's spool folder {}: {err}",
                dir.display()
            )
        })?;
        Ok(Self {
            dir,
            temporary,
            next: AtomicU64::new(0),
        })
    }

    fn new_path(&self) -> PathBuf {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        self.dir.join(format!("{n}.body"))
    }
}

impl Drop for SpoolDir {
    fn drop(&mut self) {
        if self.temporary {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A spool file, removed when dropped.
#[derive(Debug)]
pub struct SpoolFile(PathBuf);

impl SpoolFile {
    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for SpoolFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A body on disk, with the room it holds in the queue.
#[derive(Debug)]
pub struct Spooled {
    /// The file.
    pub file: SpoolFile,
    /// The body's length.
    pub len: u64,
    /// Its room in the queue.
    pub reservation: Reservation,
}

/// Why a body could not be spooled.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// Longer than `--max-body`.
    #[error("the request body is larger than the relay's limit")]
    TooLarge,
    /// No more room in the queue.
    #[error(transparent)]
    Full(#[from] Refused),
    /// The sender's body failed.
    #[error("the request body failed: {0}")]
    Body(BoxError),
    /// The disk failed.
    #[error("could not write the request body to the spool folder: {0}")]
    Io(#[from] std::io::Error),
}

/// Streams `body` into a new spool file, growing `reservation` beyond what it holds and
/// refusing beyond `max_body`.
pub async fn spool<B>(
    dir: &SpoolDir,
    mut body: B,
    mut reservation: Reservation,
    max_body: u64,
) -> Result<Spooled, SpoolError>
where
    B: HttpBody<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    let path = dir.new_path();
    let file = crate::fsperm::create_file(&path)?;
    // From here the file is removed however this ends.
    let guard = SpoolFile(path);
    let mut written = 0u64;
    let mut out =
        tokio::io::BufWriter::with_capacity(SPOOL_BUFFER, tokio::fs::File::from_std(file));
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| SpoolError::Body(e.into()))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let len = written + data.len() as u64;
        if len > max_body {
            return Err(SpoolError::TooLarge);
        }
        if len > reservation.bytes() {
            reservation.grow(len - reservation.bytes())?;
        }
        out.write_all(&data).await?;
        written = len;
    }
    out.flush().await?;
    drop(out);
    Ok(Spooled {
        file: guard,
        len: written,
        reservation,
    })
}
