//! For the `conformance_*.rs` tests: QoS shorthands and the check of a
//! refused connection.

use mqlite::codec::QoS;

use super::Pkt;

pub const Q0: QoS = QoS::AtMostOnce;
pub const Q1: QoS = QoS::AtLeastOnce;
pub const Q2: QoS = QoS::ExactlyOnce;

/// Asserts that a close is not preceded by an accepting CONNACK.
pub fn assert_refused_without_accept(packets: &[Pkt]) {
    for pkt in packets {
        if let Pkt::ConnAck { code, .. } = pkt {
            assert_ne!(*code, 0, "connection accepted: {packets:?}");
        } else {
            panic!("unexpected packet before the close: {pkt:?}");
        }
    }
}
