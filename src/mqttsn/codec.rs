//! MQTT-SN 1.2 datagrams: encoding and decoding (see `packet.rs`).
// TEMPORARY placeholder signatures until the codec branch is merged.
use super::packet::{Datagram, Forwarded, Packet};
#[derive(Debug)]
pub(crate) enum DecodeError {
    Truncated,
}
impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "truncated")
    }
}
pub(crate) fn decode(_d: &[u8]) -> Result<Datagram, DecodeError> {
    Err(DecodeError::Truncated)
}
pub(crate) fn encode(_p: &Packet, _o: &mut Vec<u8>) {}
pub(crate) fn encode_forwarded(_f: &Forwarded, _p: &Packet, _o: &mut Vec<u8>) {}
