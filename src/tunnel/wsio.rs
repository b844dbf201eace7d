//! A WebSocket as a byte stream, so HTTP/2 can run over it.
//!
//! Reads yield the payloads of binary messages in order. Writes are buffered and sent as
//! one binary message per flush (or once [`WS_MESSAGE_TARGET`] bytes are waiting): one
//! message per write call would cost a frame header, a mask and a syscall per h2 frame
//! (DESIGN §8).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Bytes, BytesMut};
use futures_util::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::protocol::WS_MESSAGE_TARGET;

/// A WebSocket after its handshake, read and written as bytes.
pub struct WsIo<S> {
    ws: WebSocketStream<S>,
    read_buf: Bytes,
    write_buf: BytesMut,
    read_closed: bool,
    flush_deferred: bool,
}

impl<S> WsIo<S> {
    /// Wraps a WebSocket whose text handshake is done.
    pub fn new(ws: WebSocketStream<S>) -> Self {
        Self {
            ws,
            read_buf: Bytes::new(),
            write_buf: BytesMut::new(),
            read_closed: false,
            flush_deferred: false,
        }
    }
}

fn to_io(err: WsError) -> io::Error {
    match err {
        WsError::Io(err) => err,
        WsError::ConnectionClosed | WsError::AlreadyClosed => {
            io::Error::new(io::ErrorKind::ConnectionReset, "the tunnel closed")
        }
        other => io::Error::other(other),
    }
}

impl<S> WsIo<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    /// Hands the buffered bytes to the WebSocket as one binary message.
    fn poll_send_buffer(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(Pin::new(&mut self.ws).poll_ready(cx)).map_err(to_io)?;
        let message = Message::Binary(self.write_buf.split().freeze());
        Pin::new(&mut self.ws).start_send(message).map_err(to_io)?;
        Poll::Ready(Ok(()))
    }
}

impl<S> AsyncRead for WsIo<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if !this.read_buf.is_empty() {
                let n = this.read_buf.len().min(buf.remaining());
                buf.put_slice(&this.read_buf.split_to(n));
                return Poll::Ready(Ok(()));
            }
            if this.read_closed {
                return Poll::Ready(Ok(()));
            }
            match ready!(Pin::new(&mut this.ws).poll_next(cx)) {
                None | Some(Ok(Message::Close(_))) => this.read_closed = true,
                Some(Ok(Message::Binary(bytes))) => this.read_buf = bytes,
                // Pings are answered by tungstenite itself.
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Ok(Message::Text(_))) => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "unexpected text message inside the tunnel",
                    )));
                }
                Some(Err(err)) => return Poll::Ready(Err(to_io(err))),
            }
        }
    }
}

impl<S> AsyncWrite for WsIo<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.write_buf.len() >= WS_MESSAGE_TARGET {
            ready!(this.poll_send_buffer(cx))?;
        }
        let n = data.len().min(WS_MESSAGE_TARGET - this.write_buf.len());
        this.write_buf.extend_from_slice(&data[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if !this.write_buf.is_empty() {
            // Let the other tasks that are ready run once before sending: h2 flushes
            // after a request's HEADERS while its body is still on the way from another
            // task, and one message for both saves a syscall and a wake-up on each side.
            if !this.flush_deferred && this.write_buf.len() < WS_MESSAGE_TARGET {
                this.flush_deferred = true;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            this.flush_deferred = false;
            ready!(this.poll_send_buffer(cx))?;
        }
        Pin::new(&mut this.ws).poll_flush(cx).map_err(to_io)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.as_mut().poll_flush(cx))?;
        Pin::new(&mut self.ws).poll_close(cx).map_err(to_io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_tungstenite::tungstenite::protocol::Role;

    #[tokio::test]
    async fn bytes_pass_both_ways_and_writes_coalesce() {
        let (a, b) = tokio::io::duplex(1 << 20);
        let client = WebSocketStream::from_raw_socket(a, Role::Client, None).await;
        let mut server = WebSocketStream::from_raw_socket(b, Role::Server, None).await;
        let mut io = WsIo::new(client);
        for _ in 0..10 {
            io.write_all(b"0123456789").await.unwrap();
        }
        io.flush().await.unwrap();
        // Ten writes, one flush: one message.
        let message = futures_util::StreamExt::next(&mut server)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(message.into_data().len(), 100);
        futures_util::SinkExt::send(&mut server, Message::Binary(Bytes::from_static(b"hi")))
            .await
            .unwrap();
        let mut got = [0u8; 2];
        io.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"hi");
    }
}
