//! A bounds-checked cursor over one packet's body (its remaining length).
//!
//! Every read that would run past the end yields [`DecodeError::Truncated`];
//! nothing here can panic, whatever the bytes.

use super::varint::read_remaining_length;
use super::{DecodeError, PacketId};

/// Cursor over the variable header and payload of one packet.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over exactly the packet body.
    #[inline]
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    /// Whether every byte has been read.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Takes the next `n` bytes.
    #[inline]
    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        match (self.buf.get(..n), self.buf.get(n..)) {
            (Some(head), Some(tail)) => {
                self.buf = tail;
                Ok(head)
            }
            _ => Err(DecodeError::Truncated),
        }
    }

    /// Takes everything left.
    #[inline]
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.buf)
    }

    /// Reads one byte.
    #[inline]
    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        match self.buf.split_first() {
            Some((&byte, tail)) => {
                self.buf = tail;
                Ok(byte)
            }
            None => Err(DecodeError::Truncated),
        }
    }

    /// Reads a big-endian 16-bit integer.
    #[inline]
    pub(crate) fn u16(&mut self) -> Result<u16, DecodeError> {
        match *self.bytes(2)? {
            [hi, lo] => Ok(u16::from_be_bytes([hi, lo])),
            _ => Err(DecodeError::Truncated),
        }
    }

    /// Reads a big-endian 32-bit integer.
    #[inline]
    pub(crate) fn u32(&mut self) -> Result<u32, DecodeError> {
        match *self.bytes(4)? {
            [a, b, c, d] => Ok(u32::from_be_bytes([a, b, c, d])),
            _ => Err(DecodeError::Truncated),
        }
    }

    /// Reads a variable byte integer (1 to 4 bytes, MQTT 5.0 §1.5.5).
    #[inline]
    pub(crate) fn varint(&mut self) -> Result<u32, DecodeError> {
        match read_remaining_length(self.buf) {
            Ok(Some((value, used))) => {
                self.buf = self.buf.get(used..).unwrap_or_default();
                // At most 4 bytes of 7 bits: below 2^28.
                Ok(value as u32)
            }
            Ok(None) => Err(DecodeError::Truncated),
            Err(_) => Err(DecodeError::MalformedVarInt),
        }
    }

    /// What is left, without taking it.
    #[inline]
    pub(crate) fn peek_rest(&self) -> &'a [u8] {
        self.buf
    }

    /// Reads a packet identifier, refusing 0 [MQTT-2.3.1-1].
    #[inline]
    pub(crate) fn packet_id(&mut self) -> Result<PacketId, DecodeError> {
        match self.u16()? {
            0 => Err(DecodeError::ZeroPacketId),
            id => Ok(id),
        }
    }

    /// Reads binary data: a 16-bit length then that many bytes.
    #[inline]
    pub(crate) fn binary(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = self.u16()?;
        self.bytes(usize::from(len))
    }

    /// Reads a UTF-8 encoded string: well-formed UTF-8 [MQTT-1.5.3-1]
    /// without U+0000 [MQTT-1.5.3-2]. A BOM (U+FEFF) is kept as is
    /// [MQTT-1.5.3-3].
    #[inline]
    pub(crate) fn string(&mut self) -> Result<&'a str, DecodeError> {
        let bytes = self.binary()?;
        // Topics and client ids are nearly always ASCII: one pass over the
        // bytes then proves them UTF-8 without U+0000, where the UTF-8
        // check and the search for a zero cost three times as much on a
        // short topic. Anything else takes the full checks below.
        if bytes.iter().all(|&b| b.wrapping_sub(1) < 0x7f) {
            // SAFETY: every byte is in 0x01..=0x7f, ASCII, which is UTF-8.
            return Ok(unsafe { std::str::from_utf8_unchecked(bytes) });
        }
        let s = std::str::from_utf8(bytes).map_err(|_| DecodeError::InvalidUtf8)?;
        // In valid UTF-8, a zero byte can only be U+0000.
        if bytes.contains(&0) {
            return Err(DecodeError::NullCharacter);
        }
        Ok(s)
    }

    /// Succeeds when every byte has been read, else [`DecodeError::TrailingBytes`].
    #[inline]
    pub(crate) fn finish(&self) -> Result<(), DecodeError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_bounds() {
        let mut r = Reader::new(&[0x00, 0x02, b'h', b'i', 0x12, 0x34, 0x07]);
        assert_eq!(r.string(), Ok("hi"));
        assert_eq!(r.u16(), Ok(0x1234));
        assert_eq!(r.finish(), Err(DecodeError::TrailingBytes));
        assert_eq!(r.u8(), Ok(7));
        assert!(r.is_empty());
        assert_eq!(r.finish(), Ok(()));
        assert_eq!(r.u8(), Err(DecodeError::Truncated));
        assert_eq!(r.u16(), Err(DecodeError::Truncated));
        assert_eq!(r.rest(), &[] as &[u8]);
    }

    #[test]
    fn string_too_long_for_buffer() {
        let mut r = Reader::new(&[0x00, 0x05, b'a', b'b']);
        assert_eq!(r.string(), Err(DecodeError::Truncated));
        let mut r = Reader::new(&[0x00]);
        assert_eq!(r.binary(), Err(DecodeError::Truncated));
    }

    #[test]
    fn string_validation() {
        let mut r = Reader::new(&[0x00, 0x03, b'a', 0x00, b'b']);
        assert_eq!(r.string(), Err(DecodeError::NullCharacter));
        // U+D800 encoded as a (forbidden) 3-byte sequence.
        let mut r = Reader::new(&[0x00, 0x03, 0xed, 0xa0, 0x80]);
        assert_eq!(r.string(), Err(DecodeError::InvalidUtf8));
        // Overlong '/' (0xc0 0xaf).
        let mut r = Reader::new(&[0x00, 0x02, 0xc0, 0xaf]);
        assert_eq!(r.string(), Err(DecodeError::InvalidUtf8));
        // Overlong U+0000 (0xc0 0x80) is invalid UTF-8, not a null.
        let mut r = Reader::new(&[0x00, 0x02, 0xc0, 0x80]);
        assert_eq!(r.string(), Err(DecodeError::InvalidUtf8));
        // The BOM is kept.
        let mut r = Reader::new(&[0x00, 0x04, 0xef, 0xbb, 0xbf, b'x']);
        assert_eq!(r.string(), Ok("\u{feff}x"));
        // Binary data may hold anything.
        let mut r = Reader::new(&[0x00, 0x02, 0x00, 0xff]);
        assert_eq!(r.binary(), Ok(&[0x00, 0xff][..]));
    }

    #[test]
    fn ascii_fast_path_bounds() {
        // 0x01 and 0x7f are ASCII and allowed; 0x80 starts the full checks.
        let mut r = Reader::new(&[0x00, 0x02, 0x01, 0x7f]);
        assert_eq!(r.string(), Ok("\u{1}\u{7f}"));
        let mut r = Reader::new(&[0x00, 0x02, b'a', 0x80]);
        assert_eq!(r.string(), Err(DecodeError::InvalidUtf8));
        let mut r = Reader::new(&[0x00, 0x03, 0xc3, 0xa9, 0x00]);
        assert_eq!(r.string(), Err(DecodeError::NullCharacter));
    }

    #[test]
    fn zero_packet_id() {
        let mut r = Reader::new(&[0x00, 0x00, 0x00, 0x01]);
        assert_eq!(r.packet_id(), Err(DecodeError::ZeroPacketId));
        assert_eq!(r.packet_id(), Ok(1));
    }
}
