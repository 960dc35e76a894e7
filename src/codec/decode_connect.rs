//! CONNECT and CONNACK bodies: the packets whose layout depends on the
//! protocol they name (CONNECT) or answer (CONNACK).

use super::reader::Reader;
use super::{
    ConnAck, Connect, DecodeError, Properties, PropertyContext, Protocol, QoS, ReasonCode,
    ReasonContext, Will,
};

const CONNECT_RESERVED: u8 = 0x01;
const CONNECT_CLEAN_SESSION: u8 = 0x02;
const CONNECT_WILL: u8 = 0x04;
const CONNECT_WILL_RETAIN: u8 = 0x20;
const CONNECT_PASSWORD: u8 = 0x40;
const CONNECT_USERNAME: u8 = 0x80;

/// CONNECT (MQTT 3.1.1 §3.1, MQTT 5.0 §3.1). The protocol level is checked
/// right after the name, before anything else, so that a client of another
/// version gets [`DecodeError::UnsupportedProtocolLevel`] whatever follows.
pub(super) fn connect<'a>(r: &mut Reader<'a>) -> Result<Connect<'a>, DecodeError> {
    let name = r.binary()?;
    let level = r.u8()?;
    let bridge = level & 0x80 != 0;
    let protocol = match (name, level & 0x7f) {
        (b"MQTT", 4) => Protocol::V311,
        (b"MQTT", 5) if !bridge => Protocol::V5,
        (b"MQIsdp", 3) => Protocol::V31,
        (b"MQTT" | b"MQIsdp", _) => return Err(DecodeError::UnsupportedProtocolLevel(level)),
        _ => return Err(DecodeError::InvalidProtocolName),
    };
    let v5 = protocol.is_v5();
    let flags = r.u8()?;
    let bad_flags = DecodeError::InvalidConnectFlags(flags);
    let will_flag = flags & CONNECT_WILL != 0;
    let will_retain = flags & CONNECT_WILL_RETAIN != 0;
    let will_qos_bits = (flags >> 3) & 0b11;
    let has_username = flags & CONNECT_USERNAME != 0;
    let has_password = flags & CONNECT_PASSWORD != 0;
    if flags & CONNECT_RESERVED != 0 // [MQTT-3.1.2-3]
        || (!will_flag && (will_qos_bits != 0 || will_retain)) // [MQTT-3.1.2-13], [MQTT-3.1.2-15]
        // [MQTT-3.1.2-22]; MQTT 5 allows a password alone (§3.1.2.9).
        || (has_password && !has_username && !v5)
    {
        return Err(bad_flags);
    }
    // [MQTT-3.1.2-14]
    let will_qos = QoS::from_u8(will_qos_bits).ok_or(bad_flags)?;
    let keep_alive = r.u16()?;
    let properties = if v5 {
        Properties::read(r, PropertyContext::Connect)?
    } else {
        Properties::EMPTY
    };
    // Payload fields, in this order when present [MQTT-3.1.3-1].
    let client_id = r.string()?;
    let will = if will_flag {
        let properties = if v5 {
            Properties::read(r, PropertyContext::Will)?
        } else {
            Properties::EMPTY
        };
        let topic = r.string()?;
        let payload = r.binary()?;
        Some(Will {
            topic,
            payload,
            qos: will_qos,
            retain: will_retain,
            properties,
        })
    } else {
        None
    };
    let username = if has_username {
        Some(r.string()?)
    } else {
        None
    };
    let password = if has_password {
        Some(r.binary()?)
    } else {
        None
    };
    Ok(Connect {
        protocol,
        bridge,
        clean_session: flags & CONNECT_CLEAN_SESSION != 0,
        keep_alive,
        client_id,
        will,
        username,
        password,
        properties,
    })
}

/// CONNACK (§3.2): acknowledge flags, return / reason code, MQTT 5
/// properties. A 3.1.1 return code is read as its MQTT 5 equivalent.
pub(super) fn connack<'a>(r: &mut Reader<'a>, v5: bool) -> Result<ConnAck<'a>, DecodeError> {
    let flags = r.u8()?;
    let code_byte = r.u8()?;
    if flags & 0xfe != 0 {
        return Err(DecodeError::InvalidConnAckFlags(flags));
    }
    let code = if v5 {
        let code = ReasonCode(code_byte);
        if !code.allowed_in(ReasonContext::ConnAck) {
            return Err(DecodeError::InvalidConnectReturnCode(code_byte));
        }
        code
    } else if code_byte <= 5 {
        ReasonCode::from_v3_connack(code_byte)
    } else {
        return Err(DecodeError::InvalidConnectReturnCode(code_byte));
    };
    let session_present = flags & 0x01 != 0;
    if session_present && code != ReasonCode::SUCCESS {
        // [MQTT-3.2.2-4], [MQTT-3.2.2-6]
        return Err(DecodeError::InvalidConnAckFlags(flags));
    }
    let properties = if v5 {
        Properties::read(r, PropertyContext::ConnAck)?
    } else {
        Properties::EMPTY
    };
    Ok(ConnAck {
        session_present,
        code,
        properties,
    })
}
