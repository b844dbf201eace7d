//! WebSocket frame headers (RFC 6455 §5.2) and masking: the pure part of [`super::wsio`].

use bytes::{Buf, BytesMut};

/// Continuation of a fragmented message.
pub const OP_CONTINUATION: u8 = 0x0;
/// A text frame.
pub const OP_TEXT: u8 = 0x1;
/// A binary frame.
pub const OP_BINARY: u8 = 0x2;
/// Close.
pub const OP_CLOSE: u8 = 0x8;
/// Ping.
pub const OP_PING: u8 = 0x9;
/// Pong.
pub const OP_PONG: u8 = 0xA;
/// The longest header: 2 bytes, an 8-byte length and a 4-byte mask key.
pub const MAX_HEADER: usize = 14;
/// Largest frame accepted; the tunnel's own frames are far smaller.
pub const MAX_FRAME: u64 = 16 << 20;

/// A parsed frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHead {
    /// Last frame of its message.
    pub fin: bool,
    /// What the frame carries.
    pub opcode: u8,
    /// Payload length.
    pub len: u64,
    /// The key the payload is masked with (frames from clients).
    pub mask: Option<[u8; 4]>,
}

/// A header that breaks the rules.
#[derive(Debug, thiserror::Error)]
#[error("a WebSocket frame is larger than {MAX_FRAME} bytes")]
pub struct FrameTooLarge;

/// Writes a FIN header for `len` payload bytes into `out`; with `masked`, picks a random
/// key. Returns the header's length and the key.
pub fn encode_head(
    out: &mut [u8; MAX_HEADER],
    opcode: u8,
    len: usize,
    masked: bool,
) -> (usize, Option<[u8; 4]>) {
    out[0] = 0x80 | opcode;
    let mask_bit = if masked { 0x80 } else { 0 };
    let mut at = if len < 126 {
        out[1] = mask_bit | len as u8;
        2
    } else if len <= usize::from(u16::MAX) {
        out[1] = mask_bit | 126;
        out[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        4
    } else {
        out[1] = mask_bit | 127;
        out[2..10].copy_from_slice(&(len as u64).to_be_bytes());
        10
    };
    let key = masked.then(rand::random::<[u8; 4]>);
    if let Some(key) = key {
        out[at..at + 4].copy_from_slice(&key);
        at += 4;
    }
    (at, key)
}

/// Takes a whole header off the front of `buf`; `Ok(None)` when more bytes are needed.
pub fn decode_head(buf: &mut BytesMut) -> Result<Option<FrameHead>, FrameTooLarge> {
    if buf.len() < 2 {
        return Ok(None);
    }
    let masked = buf[1] & 0x80 != 0;
    let short = u64::from(buf[1] & 0x7f);
    let extra = match short {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    let needed = 2 + extra + if masked { 4 } else { 0 };
    if buf.len() < needed {
        return Ok(None);
    }
    let mut head = buf.split_to(needed);
    let b0 = head.get_u8();
    head.advance(1);
    let len = match extra {
        2 => u64::from(head.get_u16()),
        8 => head.get_u64(),
        _ => short,
    };
    if len > MAX_FRAME {
        return Err(FrameTooLarge);
    }
    Ok(Some(FrameHead {
        fin: b0 & 0x80 != 0,
        opcode: b0 & 0x0f,
        len,
        mask: masked.then(|| [head[0], head[1], head[2], head[3]]),
    }))
}

/// XORs `data` with `key` (if any), `offset` bytes into the frame's payload.
pub fn apply_mask(data: &mut [u8], key: Option<[u8; 4]>, offset: usize) {
    if let Some(key) = key {
        for (i, byte) in data.iter_mut().enumerate() {
            *byte ^= key[(offset + i) & 3];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_at_every_length_class() {
        for (len, masked) in [
            (5, false),
            (125, true),
            (126, false),
            (65_535, true),
            (70_000, false),
        ] {
            let mut out = [0u8; MAX_HEADER];
            let (n, key) = encode_head(&mut out, OP_BINARY, len, masked);
            let mut buf = BytesMut::from(&out[..n]);
            assert_eq!(
                decode_head(&mut BytesMut::from(&out[..n - 1])).unwrap(),
                None
            );
            let head = decode_head(&mut buf).unwrap().unwrap();
            assert_eq!(
                head,
                FrameHead {
                    fin: true,
                    opcode: OP_BINARY,
                    len: len as u64,
                    mask: key
                }
            );
            assert!(buf.is_empty());
        }
        let mut huge = BytesMut::from(&[0x82u8, 127, 0, 0, 0, 0, 0x10, 0, 0, 0][..]);
        assert!(decode_head(&mut huge).is_err());
    }

    #[test]
    fn masking_is_its_own_inverse_across_chunks() {
        let key = Some([1, 2, 3, 4]);
        let mut data = b"hello, tunnel".to_vec();
        apply_mask(&mut data, key, 0);
        let (a, b) = data.split_at_mut(5);
        apply_mask(a, key, 0);
        apply_mask(b, key, 5);
        assert_eq!(data, b"hello, tunnel");
    }
}
