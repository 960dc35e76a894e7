//! The fuzz input read as operands.

use mqlite::codec::QoS;

use super::MAX_PACKET_SIZE;

/// Reads operands from the fuzz input; yields zeros once it is used up.
pub(super) struct Input<'a> {
    pub(super) data: &'a [u8],
}

impl<'a> Input<'a> {
    pub(super) fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub(super) fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    pub(super) fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.byte(), self.byte()])
    }

    pub(super) fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }

    pub(super) fn flag(&mut self) -> bool {
        self.byte() & 1 == 1
    }

    pub(super) fn qos(&mut self) -> QoS {
        QoS::from_u8(self.byte() % 3).expect("0..=2")
    }

    /// Up to `limit` bytes of input, the length read first.
    pub(super) fn bytes(&mut self, limit: usize) -> &'a [u8] {
        let n = usize::from(self.byte()).min(limit).min(self.data.len());
        let (taken, rest) = self.data.split_at(n);
        self.data = rest;
        taken
    }

    /// A string: usually from `words`, sometimes raw input bytes (their
    /// UTF-8 prefix, NUL included).
    pub(super) fn word(&mut self, words: &[&str]) -> String {
        let b = self.byte();
        if b < 240 {
            words[usize::from(b) % words.len()].to_string()
        } else {
            let bytes = self.bytes(24);
            match std::str::from_utf8(bytes) {
                Ok(s) => s.to_string(),
                Err(e) => String::from_utf8_lossy(&bytes[..e.valid_up_to()]).into_owned(),
            }
        }
    }

    /// A payload: empty, a few bytes, up to 2 KiB, or near the maximum
    /// packet size (filled, so large payloads cost little input).
    pub(super) fn payload(&mut self) -> Vec<u8> {
        let b = self.byte();
        let fill = self.byte();
        let len = match b % 4 {
            0 => 0,
            1 => usize::from(b / 4) % 16,
            2 => usize::from(b) * 8,
            _ => MAX_PACKET_SIZE - 64 - usize::from(b % 64),
        };
        vec![fill; len]
    }

    /// A packet id: mostly small, so that acknowledgements meet in-flight
    /// messages; sometimes any (0 included).
    pub(super) fn packet_id(&mut self) -> u16 {
        let b = self.byte();
        if b < 224 {
            u16::from(b % 8) + 1
        } else {
            self.u16()
        }
    }
}
