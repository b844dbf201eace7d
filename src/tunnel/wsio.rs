//! A WebSocket (RFC 6455 framing) as a byte stream, so HTTP/2 can run over it.
//!
//! The upgrade is done by tungstenite (agent) or hyper (relay); after it, this module
//! frames the bytes itself. Writes are gathered into one binary frame per flush (or per
//! [`WS_MESSAGE_TARGET`] bytes) and written with the frame header in front, so a byte of
//! body is copied once on its way out; reads hand over binary frame payloads as they
//! arrive, never waiting for a whole message. tungstenite copies every payload into its
//! own write buffer, which cost a quarter of the relay's CPU on 1 MiB uploads.
//! Text frames carry the handshake ([`WsIo::send_text`], [`WsIo::recv_text`]); pings are
//! answered; a close frame ends the stream.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

use super::frame::{
    FrameHead, MAX_HEADER as HEADER_ROOM, OP_BINARY, OP_CLOSE, OP_CONTINUATION, OP_PING, OP_PONG,
    OP_TEXT, apply_mask, decode_head, encode_head,
};
use super::protocol::WS_MESSAGE_TARGET;

/// Which end of the WebSocket this is: clients mask what they send (RFC 6455 §5.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The agent.
    Client,
    /// The relay.
    Server,
}

/// A WebSocket after its upgrade, read and written as bytes.
pub struct WsIo<S> {
    io: S,
    role: Role,
    rbuf: BytesMut,
    /// Payload bytes of the current data frame still to hand over.
    payload_left: u64,
    mask: Option<[u8; 4]>,
    mask_offset: usize,
    read_closed: bool,
    /// `HEADER_ROOM` bytes, then the payload of the frame being gathered.
    wbuf: BytesMut,
    /// Where the sealed frame starts in `wbuf` while it is being written out.
    sealed_at: Option<usize>,
    /// Control frames (pongs) waiting to go out between data frames.
    control: BytesMut,
    flush_deferred: bool,
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_string())
}

impl<S: AsyncRead + AsyncWrite + Unpin> WsIo<S> {
    /// Wraps the stream of an upgraded connection.
    pub fn new(io: S, role: Role) -> Self {
        Self {
            io,
            role,
            rbuf: BytesMut::with_capacity(64 * 1024),
            payload_left: 0,
            mask: None,
            mask_offset: 0,
            read_closed: false,
            wbuf: BytesMut::new(),
            sealed_at: None,
            control: BytesMut::new(),
            flush_deferred: false,
        }
    }

    /// Sends one text message and flushes.
    pub async fn send_text(&mut self, text: &str) -> io::Result<()> {
        let mut frame = BytesMut::new();
        self.encode_frame(&mut frame, OP_TEXT, text.as_bytes());
        self.io.write_all(&frame).await?;
        self.io.flush().await
    }

    /// Sends a close frame (best effort) and flushes.
    pub async fn send_close(&mut self) -> io::Result<()> {
        let mut frame = BytesMut::new();
        self.encode_frame(&mut frame, OP_CLOSE, &1000u16.to_be_bytes());
        self.io.write_all(&frame).await?;
        self.io.flush().await
    }

    /// Reads the next text message (at most `max` bytes); `None` when the peer closed.
    pub async fn recv_text(&mut self, max: usize) -> io::Result<Option<String>> {
        let mut message = Vec::new();
        loop {
            let Some(FrameHead {
                fin,
                opcode,
                len,
                mask,
            }) = std::future::poll_fn(|cx| self.poll_header(cx)).await?
            else {
                return Ok(None);
            };
            let total = message.len() as u64 + len;
            if total > max as u64 {
                return Err(invalid("the handshake message is too large"));
            }
            let mut payload = std::future::poll_fn(|cx| self.poll_fill(cx, len as usize))
                .await?
                .to_vec();
            apply_mask(&mut payload, mask, 0);
            match opcode {
                OP_TEXT | OP_CONTINUATION => {
                    message.extend_from_slice(&payload);
                    if fin {
                        return String::from_utf8(message)
                            .map(Some)
                            .map_err(|_| invalid("the handshake message is not UTF-8"));
                    }
                }
                OP_PING => self.queue_control(OP_PONG, &payload),
                OP_PONG => {}
                OP_CLOSE => return Ok(None),
                _ => return Err(invalid("expected a text message")),
            }
        }
    }

    fn encode_frame(&self, out: &mut BytesMut, opcode: u8, payload: &[u8]) {
        let mut header = [0u8; HEADER_ROOM];
        let (len, key) = self.header(&mut header, opcode, payload.len());
        out.extend_from_slice(&header[..len]);
        let start = out.len();
        out.extend_from_slice(payload);
        apply_mask(&mut out[start..], key, 0);
    }

    /// Writes a FIN frame header for `len` payload bytes (masked if a client).
    fn header(
        &self,
        out: &mut [u8; HEADER_ROOM],
        opcode: u8,
        len: usize,
    ) -> (usize, Option<[u8; 4]>) {
        encode_head(out, opcode, len, self.role == Role::Client)
    }

    fn queue_control(&mut self, opcode: u8, payload: &[u8]) {
        let mut frame = BytesMut::new();
        self.encode_frame(&mut frame, opcode, &payload[..payload.len().min(125)]);
        self.control.extend_from_slice(&frame);
    }

    /// Reads more bytes into `rbuf`; `Ok(false)` at end of stream.
    fn poll_more(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<bool>> {
        if self.rbuf.capacity() - self.rbuf.len() < 16 * 1024 {
            self.rbuf.reserve(64 * 1024);
        }
        let n = ready!(tokio_util::io::poll_read_buf(
            Pin::new(&mut self.io),
            cx,
            &mut self.rbuf
        ))?;
        Poll::Ready(Ok(n > 0))
    }

    /// Waits until `rbuf` holds `len` bytes and takes them.
    fn poll_fill(&mut self, cx: &mut Context<'_>, len: usize) -> Poll<io::Result<BytesMut>> {
        while self.rbuf.len() < len {
            if !ready!(self.poll_more(cx))? {
                return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into()));
            }
        }
        Poll::Ready(Ok(self.rbuf.split_to(len)))
    }

    /// Parses the next frame header; `None` at a clean end of stream.
    fn poll_header(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<FrameHead>>> {
        loop {
            match decode_head(&mut self.rbuf) {
                // A server must close on an unmasked frame, a client on a masked one
                // (RFC 6455 §5.1).
                Ok(Some(head)) if head.mask.is_none() == (self.role == Role::Server) => {
                    let why = match self.role {
                        Role::Server => "the agent sent an unmasked WebSocket frame",
                        Role::Client => "the relay sent a masked WebSocket frame",
                    };
                    return Poll::Ready(Err(invalid(why)));
                }
                Ok(Some(head)) => return Poll::Ready(Ok(Some(head))),
                Ok(None) => {}
                Err(err) => return Poll::Ready(Err(invalid(&err.to_string()))),
            }
            if !ready!(self.poll_more(cx))? {
                return if self.rbuf.is_empty() {
                    Poll::Ready(Ok(None))
                } else {
                    Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into()))
                };
            }
        }
    }

    /// Seals the gathered payload into a frame (header in front, masked if a client).
    fn seal(&mut self) {
        let len = self.wbuf.len() - HEADER_ROOM;
        let mut header = [0u8; HEADER_ROOM];
        let (header_len, key) = self.header(&mut header, OP_BINARY, len);
        let start = HEADER_ROOM - header_len;
        self.wbuf[start..HEADER_ROOM].copy_from_slice(&header[..header_len]);
        apply_mask(&mut self.wbuf[HEADER_ROOM..], key, 0);
        self.sealed_at = Some(start);
    }

    /// Writes out the sealed frame, then any control frames.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(mut at) = self.sealed_at {
            while at < self.wbuf.len() {
                let n = match Pin::new(&mut self.io).poll_write(cx, &self.wbuf[at..]) {
                    Poll::Ready(result) => result?,
                    Poll::Pending => {
                        self.sealed_at = Some(at);
                        return Poll::Pending;
                    }
                };
                if n == 0 {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                at += n;
            }
            self.sealed_at = None;
            self.wbuf.clear();
        }
        while !self.control.is_empty() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &self.control))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.control.advance(n);
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for WsIo<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if this.payload_left > 0 {
                if this.rbuf.is_empty() && !ready!(this.poll_more(cx))? {
                    return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into()));
                }
                let n = (this.rbuf.len() as u64)
                    .min(this.payload_left)
                    .min(buf.remaining() as u64) as usize;
                let mut chunk = this.rbuf.split_to(n);
                apply_mask(&mut chunk, this.mask, this.mask_offset);
                this.mask_offset += n;
                this.payload_left -= n as u64;
                buf.put_slice(&chunk);
                return Poll::Ready(Ok(()));
            }
            if this.read_closed {
                return Poll::Ready(Ok(()));
            }
            let Some(FrameHead {
                opcode, len, mask, ..
            }) = ready!(this.poll_header(cx))?
            else {
                this.read_closed = true;
                continue;
            };
            match opcode {
                OP_BINARY | OP_CONTINUATION => {
                    this.payload_left = len;
                    this.mask = mask;
                    this.mask_offset = 0;
                }
                OP_PING | OP_PONG => {
                    let mut payload = ready!(this.poll_fill(cx, len as usize))?;
                    if opcode == OP_PING {
                        apply_mask(&mut payload, mask, 0);
                        this.queue_control(OP_PONG, &payload);
                    }
                }
                OP_CLOSE => this.read_closed = true,
                _ => return Poll::Ready(Err(invalid("unexpected text inside the tunnel"))),
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for WsIo<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.sealed_at.is_some() || !this.control.is_empty() {
            ready!(this.poll_drain(cx))?;
        }
        if this.wbuf.len() >= HEADER_ROOM + WS_MESSAGE_TARGET {
            this.seal();
            ready!(this.poll_drain(cx))?;
        }
        if this.wbuf.is_empty() {
            this.wbuf
                .reserve(HEADER_ROOM + data.len().min(WS_MESSAGE_TARGET));
            this.wbuf.extend_from_slice(&[0; HEADER_ROOM]);
        }
        let room = HEADER_ROOM + WS_MESSAGE_TARGET - this.wbuf.len();
        let n = data.len().min(room);
        this.wbuf.extend_from_slice(&data[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.sealed_at.is_none() && this.wbuf.len() > HEADER_ROOM {
            // Let the other ready tasks run once before sending: h2 flushes after a
            // request's HEADERS while its body is still on the way from another task,
            // and one frame for both saves a syscall and a wake-up on each side.
            if !this.flush_deferred && this.wbuf.len() < HEADER_ROOM + WS_MESSAGE_TARGET {
                this.flush_deferred = true;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            this.flush_deferred = false;
            this.seal();
        }
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.as_mut().poll_flush(cx))?;
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::{SinkExt, StreamExt};
    use tokio::io::AsyncReadExt;
    use tokio_tungstenite::WebSocketStream;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::protocol::Role as WsRole;

    #[tokio::test]
    async fn speaks_websocket_with_tungstenite_both_ways() {
        for (ours, theirs) in [
            (Role::Client, WsRole::Server),
            (Role::Server, WsRole::Client),
        ] {
            let (a, b) = tokio::io::duplex(1 << 20);
            let mut io = WsIo::new(a, ours);
            let mut peer = WebSocketStream::from_raw_socket(b, theirs, None).await;

            io.send_text("hello").await.unwrap();
            let got = peer.next().await.unwrap().unwrap();
            assert_eq!(got.to_text().unwrap(), "hello");
            peer.send(Message::text("welcome")).await.unwrap();
            assert_eq!(io.recv_text(100).await.unwrap().as_deref(), Some("welcome"));

            // Ten writes, one flush: one binary message, whatever its size.
            let big: Vec<u8> = (0..70_000u32).map(|i| i as u8).collect();
            for _ in 0..10 {
                io.write_all(b"0123456789").await.unwrap();
            }
            io.write_all(&big).await.unwrap();
            io.flush().await.unwrap();
            let message = peer.next().await.unwrap().unwrap().into_data();
            assert_eq!(message.len(), 100 + big.len());
            assert_eq!(&message[100..], big.as_slice());

            // Binary messages, with a ping between them, read back as one byte stream.
            peer.send(Message::Binary(big.clone().into()))
                .await
                .unwrap();
            peer.send(Message::Ping(bytes::Bytes::from_static(b"p")))
                .await
                .unwrap();
            peer.send(Message::Binary(bytes::Bytes::from_static(b"tail")))
                .await
                .unwrap();
            let mut got = vec![0u8; big.len() + 4];
            io.read_exact(&mut got).await.unwrap();
            assert_eq!(&got[..big.len()], big.as_slice());
            assert_eq!(&got[big.len()..], b"tail");
            // The ping is answered with the next write.
            io.write_all(b"x").await.unwrap();
            io.flush().await.unwrap();
            let mut kinds = Vec::new();
            for _ in 0..2 {
                kinds.push(peer.next().await.unwrap().unwrap());
            }
            assert!(
                kinds
                    .iter()
                    .any(|m| matches!(m, Message::Pong(p) if p.as_ref() == b"p"))
            );
            assert!(
                kinds
                    .iter()
                    .any(|m| matches!(m, Message::Binary(b) if b.as_ref() == b"x"))
            );

            peer.close(None).await.unwrap();
            let mut rest = Vec::new();
            io.read_to_end(&mut rest).await.unwrap();
            assert!(rest.is_empty());
        }
    }
}
