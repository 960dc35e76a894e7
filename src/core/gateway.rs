//! What a gateway (an adapter that drives the core as a client does, see
//! `docs/ARCHITECTURE.md`) needs beyond a client's bytes: its own listener
//! number, and changing a connection's will while it is connected, which
//! MQTT-SN allows (WILLTOPICUPD / WILLMSGUPD) and MQTT cannot say.

use super::connection::{ConnState, Will};
use super::{ConnId, Core};
use crate::codec::QoS;
use crate::message::Message;

impl Core {
    /// The listener number of the gateway's connections: after the
    /// configured listeners and the bridges', so that the broker-wide
    /// settings apply to them.
    pub(crate) fn gateway_listener(&self) -> u16 {
        self.bridge_listener().saturating_add(1)
    }

    /// The will of connected connection `id`, if it has one.
    pub(crate) fn will_of(&self, id: ConnId) -> Option<&Message> {
        let conn = self.conns.get(id)?;
        matches!(conn.state, ConnState::Connected(_)).then_some(())?;
        conn.will.as_ref().map(|will| &will.message)
    }

    /// Replaces the will of connected connection `id` (`None`: no will any
    /// more). Returns false when the connection is not connected, or the
    /// will breaks a rule CONNECT's would (`will_refusal`) or names a `$`
    /// topic.
    pub(crate) fn set_will(&mut self, id: ConnId, will: Option<(&str, &[u8], QoS, bool)>) -> bool {
        let will = match will {
            Some((topic, payload, qos, retain)) => {
                if topic.starts_with('$') || self.will_refusal(topic, qos, retain).is_some() {
                    return false;
                }
                match Message::new(topic, payload, qos, retain) {
                    Some(message) => Some(Box::new(Will {
                        message,
                        expiry_interval: None,
                        delay: 0,
                    })),
                    None => return false,
                }
            }
            None => None,
        };
        match self.conns.live_mut(id) {
            Some(conn) if matches!(conn.state, ConnState::Connected(_)) => {
                conn.will = will;
                true
            }
            _ => false,
        }
    }
}
