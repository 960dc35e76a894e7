//! The remaining length: a variable-length integer of 1 to 4 bytes, 7 bits
//! per byte, least significant group first, bit 7 = "more bytes follow"
//! (MQTT 3.1.1 §2.2.3).

use std::mem::MaybeUninit;

use super::DecodeError;

/// The largest remaining length the protocol can express (4 bytes).
pub const MAX_REMAINING_LENGTH: usize = 268_435_455;

/// Number of bytes the remaining length `len` takes on the wire (1..=4).
///
/// `len` must be at most [`MAX_REMAINING_LENGTH`]; larger values report 4.
#[inline]
pub const fn remaining_length_len(len: usize) -> usize {
    if len < 128 {
        1
    } else if len < 16_384 {
        2
    } else if len < 2_097_152 {
        3
    } else {
        4
    }
}

/// Appends the remaining length `len` (at most [`MAX_REMAINING_LENGTH`]).
#[inline]
pub(crate) fn write_remaining_length(out: &mut Vec<u8>, mut len: usize) {
    debug_assert!(len <= MAX_REMAINING_LENGTH);
    loop {
        let mut byte = (len & 0x7f) as u8;
        len >>= 7;
        if len > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if len == 0 {
            break;
        }
    }
}

/// Writes the remaining length `len` (at most [`MAX_REMAINING_LENGTH`])
/// into `out`, which is [`remaining_length_len`] bytes long: into a
/// buffer's spare room, where [`write_remaining_length`] pushes.
#[inline]
pub(crate) fn put_remaining_length(out: &mut [MaybeUninit<u8>], mut len: usize) {
    debug_assert_eq!(out.len(), remaining_length_len(len));
    for slot in out {
        let mut byte = (len & 0x7f) as u8;
        len >>= 7;
        if len > 0 {
            byte |= 0x80;
        }
        slot.write(byte);
    }
}

/// Reads a remaining length from the start of `buf`.
///
/// `Ok(None)` when `buf` ends before the last byte of the integer;
/// `Ok(Some((value, bytes_used)))` otherwise. Non-minimal encodings (such as
/// `0x80 0x00`) are accepted; a continuation bit on the 4th byte is an error.
#[inline]
pub(crate) fn read_remaining_length(buf: &[u8]) -> Result<Option<(usize, usize)>, DecodeError> {
    let mut value = 0usize;
    for (i, &byte) in buf.iter().take(4).enumerate() {
        value |= usize::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok(Some((value, i + 1)));
        }
        if i == 3 {
            return Err(DecodeError::MalformedRemainingLength);
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(len: usize) -> Vec<u8> {
        let mut out = Vec::new();
        write_remaining_length(&mut out, len);
        out
    }

    #[test]
    fn spec_boundaries() {
        // MQTT 3.1.1 table 2.4.
        let cases: &[(usize, &[u8])] = &[
            (0, &[0x00]),
            (127, &[0x7f]),
            (128, &[0x80, 0x01]),
            (16_383, &[0xff, 0x7f]),
            (16_384, &[0x80, 0x80, 0x01]),
            (2_097_151, &[0xff, 0xff, 0x7f]),
            (2_097_152, &[0x80, 0x80, 0x80, 0x01]),
            (268_435_455, &[0xff, 0xff, 0xff, 0x7f]),
        ];
        for &(len, bytes) in cases {
            assert_eq!(enc(len), bytes, "encoding {len}");
            assert_eq!(remaining_length_len(len), bytes.len());
            assert_eq!(read_remaining_length(bytes), Ok(Some((len, bytes.len()))));
            for cut in 0..bytes.len() {
                assert_eq!(read_remaining_length(&bytes[..cut]), Ok(None));
            }
        }
    }

    #[test]
    fn non_minimal_accepted() {
        assert_eq!(read_remaining_length(&[0x80, 0x00]), Ok(Some((0, 2))));
        assert_eq!(
            read_remaining_length(&[0xff, 0x80, 0x80, 0x00]),
            Ok(Some((127, 4)))
        );
    }

    #[test]
    fn fifth_byte_refused() {
        let err = Err(DecodeError::MalformedRemainingLength);
        assert_eq!(read_remaining_length(&[0xff, 0xff, 0xff, 0xff]), err);
        assert_eq!(read_remaining_length(&[0x80, 0x80, 0x80, 0x80, 0x01]), err);
    }
}
