//! What hyper parses away: a request with both `Content-Length` and `Transfer-Encoding`
//! reaches the service with the `Content-Length` gone. [`Sniffed`] wraps a sender's
//! connection, follows its requests' framing as hyper reads them, and notes for each head
//! whether it had both, so the relay can refuse it (400) instead of answering it.
//!
//! It only notes; hyper still parses. Whatever it cannot follow (an upgrade, a head it
//! cannot read) ends the sniffing for that connection, and a note is used only when its
//! method matches the request hyper hands over (hyper serves a connection's requests in
//! order, one per head).

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Largest head followed; longer ones end the sniffing (hyper refuses them anyway).
const MAX_HEAD: usize = 128 * 1024;

/// One request head as the sniffer saw it.
#[derive(Debug, PartialEq, Eq)]
struct Note {
    method: String,
    both: bool,
}

/// The notes of one connection, shared with its service.
#[derive(Clone, Default)]
pub struct Notes(Arc<Mutex<VecDeque<Note>>>);

impl Notes {
    /// True when the head of the connection's next request, a `method`, had both
    /// `Content-Length` and `Transfer-Encoding`.
    pub fn had_both(&self, method: &str) -> bool {
        let mut notes = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match notes.pop_front() {
            Some(note) if note.method == method => note.both,
            // Out of step: trust nothing noted for this connection.
            Some(_) => {
                notes.clear();
                false
            }
            None => false,
        }
    }

    fn push(&self, note: Note) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(note);
    }
}

enum State {
    Head(Vec<u8>),
    Fixed(u64),
    ChunkSize(Vec<u8>),
    ChunkData(u64),
    ChunkEnd(u8),
    Trailers(Vec<u8>),
    Off,
}

/// A connection whose request heads are noted as they are read.
pub struct Sniffed<S> {
    inner: S,
    state: State,
    notes: Notes,
}

impl<S> Sniffed<S> {
    /// Wraps `inner`; the notes go to `notes`.
    pub fn new(inner: S, notes: Notes) -> Self {
        Self {
            inner,
            state: State::Head(Vec::new()),
            notes,
        }
    }

    fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            match &mut self.state {
                State::Off => return,
                State::Head(buf) => {
                    if buf.is_empty() {
                        // Empty lines before a request are skipped (RFC 9112 §2.2).
                        let skip = data
                            .iter()
                            .take_while(|b| matches!(b, b'\r' | b'\n'))
                            .count();
                        data = &data[skip..];
                        if data.is_empty() {
                            return;
                        }
                    }
                    let before = buf.len();
                    buf.extend_from_slice(data);
                    let from = before.saturating_sub(3);
                    let Some(end) = buf[from..].windows(4).position(|w| w == b"\r\n\r\n") else {
                        if buf.len() > MAX_HEAD {
                            self.state = State::Off;
                        }
                        return;
                    };
                    let end = from + end + 4;
                    data = &data[end - before..];
                    let head = std::mem::take(buf);
                    self.state = match read_head(&head[..end]) {
                        Some((note, next)) => {
                            self.notes.push(note);
                            next
                        }
                        None => State::Off,
                    };
                }
                State::Fixed(left) => {
                    let n = (*left).min(data.len() as u64);
                    *left -= n;
                    data = &data[n as usize..];
                    if *left == 0 {
                        self.state = State::Head(Vec::new());
                    }
                }
                State::ChunkSize(line) => {
                    let Some(nl) = data.iter().position(|b| *b == b'\n') else {
                        line.extend_from_slice(data);
                        if line.len() > 1024 {
                            self.state = State::Off;
                        }
                        return;
                    };
                    line.extend_from_slice(&data[..nl]);
                    data = &data[nl + 1..];
                    let text = String::from_utf8_lossy(line);
                    let size = text.split(';').next().unwrap_or("").trim();
                    self.state = match u64::from_str_radix(size, 16) {
                        Ok(0) => State::Trailers(Vec::new()),
                        Ok(n) => State::ChunkData(n),
                        Err(_) => State::Off,
                    };
                }
                State::ChunkData(left) => {
                    let n = (*left).min(data.len() as u64);
                    *left -= n;
                    data = &data[n as usize..];
                    if *left == 0 {
                        self.state = State::ChunkEnd(2);
                    }
                }
                State::ChunkEnd(left) => {
                    let n = usize::from(*left).min(data.len());
                    *left -= n as u8;
                    data = &data[n..];
                    if *left == 0 {
                        self.state = State::ChunkSize(Vec::new());
                    }
                }
                State::Trailers(line) => {
                    let Some(nl) = data.iter().position(|b| *b == b'\n') else {
                        line.extend_from_slice(data);
                        if line.len() > MAX_HEAD {
                            self.state = State::Off;
                        }
                        return;
                    };
                    let empty =
                        line.iter().all(|b| *b == b'\r') && data[..nl].iter().all(|b| *b == b'\r');
                    data = &data[nl + 1..];
                    self.state = if empty {
                        State::Head(Vec::new())
                    } else {
                        State::Trailers(Vec::new())
                    };
                }
            }
        }
    }
}

/// The note for one head and how its body is framed; `None` when it cannot be followed.
fn read_head(head: &[u8]) -> Option<(Note, State)> {
    let text = std::str::from_utf8(head).ok()?;
    let mut lines = text.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?;
    request_line.next()?;
    let (mut length, mut chunked, mut te, mut cl, mut upgrade) = (None, false, false, false, false);
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':')?;
        let value = value.trim();
        match name.to_ascii_lowercase().as_str() {
            "content-length" => {
                cl = true;
                length = Some(value.parse::<u64>().ok()?);
            }
            "transfer-encoding" => {
                te = true;
                chunked = value
                    .rsplit(',')
                    .next()
                    .is_some_and(|c| c.trim().eq_ignore_ascii_case("chunked"));
            }
            "upgrade" => upgrade = true,
            _ => {}
        }
    }
    let note = Note {
        method: method.to_string(),
        both: cl && te,
    };
    let next = if upgrade || method == "CONNECT" || (te && !chunked) {
        State::Off
    } else if chunked {
        State::ChunkSize(Vec::new())
    } else {
        match length {
            Some(0) | None => State::Head(Vec::new()),
            Some(n) => State::Fixed(n),
        }
    };
    Some((note, next))
}

impl<S: AsyncRead + Unpin> AsyncRead for Sniffed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &polled
            && !matches!(this.state, State::Off)
        {
            this.feed(&buf.filled()[before..]);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Sniffed<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notes_of(chunks: &[&[u8]]) -> Notes {
        let notes = Notes::default();
        let mut sniffed = Sniffed::new((), notes.clone());
        for chunk in chunks {
            sniffed.feed(chunk);
        }
        notes
    }

    #[test]
    fn heads_are_followed_across_bodies_and_split_reads() {
        let stream = b"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc\
POST /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nxyz\r\n0\r\nT: 1\r\n\r\n\
POST /c HTTP/1.1\r\ncontent-length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
        for split in [1, 7, 50, stream.len()] {
            let chunks: Vec<&[u8]> = stream.chunks(split).collect();
            let notes = notes_of(&chunks);
            assert!(!notes.had_both("POST"), "split {split}");
            assert!(!notes.had_both("POST"), "split {split}");
            assert!(notes.had_both("POST"), "split {split}");
        }
        // Out of step, nothing is trusted.
        let notes = notes_of(&[stream]);
        assert!(!notes.had_both("GET"));
        assert!(!notes.had_both("POST"));
    }
}
