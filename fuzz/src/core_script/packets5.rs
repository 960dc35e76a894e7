//! Packets of an MQTT 5 client, built from input fields: properties
//! (mostly valid, sometimes not), reason codes, subscription options,
//! shared subscriptions, AUTH.

use mqlite::codec::{
    self, property, Ack, ConnAck, Packet, Properties, PropertiesBuilder, Protocol, Publish, QoS,
    ReasonCode, Reasoned, RetainHandling, SubAck, Subscribe, SubscriptionOptions, UnsubAck,
    Unsubscribe,
};

use super::client_output5::TAG_KEY;
use super::{Script, FILTERS5, TOPICS};

/// Short strings for property values.
const TEXTS: [&str; 6] = ["k", "v", "", "text/plain", "a/b", "\u{fc}"];

impl Script<'_> {
    /// A packet from MQTT 5 client `i`, encoded as MQTT 5.
    pub(super) fn packet5(&mut self, i: usize) -> Vec<u8> {
        let kind = self.input.byte() % 14;
        let mut out = Vec::new();
        let encoded = match kind {
            0 => {
                // A second CONNECT: a protocol error.
                return self.connect_packet();
            }
            1 | 2 | 13 => {
                let qos = self.input.qos();
                let flags = self.input.byte();
                let topic = if flags & 4 != 0 {
                    // Left to a Topic Alias.
                    String::new()
                } else {
                    self.input.word(&TOPICS)
                };
                let payload = self.input.payload();
                let packet_id = (qos != QoS::AtMostOnce).then(|| self.input.packet_id());
                let properties = self.message_properties(false);
                codec::encode_as(
                    &Packet::Publish(Publish {
                        dup: qos != QoS::AtMostOnce && flags & 1 != 0,
                        qos,
                        retain: flags & 2 != 0,
                        topic: &topic,
                        packet_id,
                        payload: &payload,
                        properties: properties.unchecked(),
                    }),
                    Protocol::V5,
                    &mut out,
                )
            }
            3..=6 => {
                let packet_id = self.smart_id(i);
                let b = self.input.byte();
                let codes: &[u8] = if kind <= 4 {
                    &[0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99]
                } else {
                    &[0x00, 0x92]
                };
                // Mostly Success.
                let reason = if b < 128 {
                    ReasonCode::SUCCESS
                } else {
                    ReasonCode(codes[usize::from(b) % codes.len()])
                };
                let properties = self.reply_properties();
                let ack = Ack {
                    packet_id,
                    reason,
                    properties: properties.unchecked(),
                };
                let packet = match kind {
                    3 => Packet::PubAck(ack),
                    4 => Packet::PubRec(ack),
                    5 => Packet::PubRel(ack),
                    _ => Packet::PubComp(ack),
                };
                codec::encode_as(&packet, Protocol::V5, &mut out)
            }
            7 => {
                let packet_id = self.input.packet_id();
                let n = 1 + self.input.byte() % 3;
                let filters: Vec<(String, SubscriptionOptions)> = (0..n)
                    .map(|_| {
                        let filter = self.input.word(&FILTERS5);
                        let b = self.input.byte();
                        let options = SubscriptionOptions {
                            qos: QoS::from_u8((b & 3) % 3).expect("0..=2"),
                            no_local: b & 0x10 != 0,
                            retain_as_published: b & 0x20 != 0,
                            retain_handling: match (b >> 6) % 3 {
                                0 => RetainHandling::SendOnSubscribe,
                                1 => RetainHandling::SendIfNew,
                                _ => RetainHandling::DoNotSend,
                            },
                        };
                        (filter, options)
                    })
                    .collect();
                let mut properties = PropertiesBuilder::new();
                let bits = self.input.byte();
                if bits & 1 != 0 {
                    let identifier = match self.input.byte() % 8 {
                        0..=2 => u32::from(self.input.byte() % 3) + 1,
                        3 => 127,
                        4 => 128,
                        5 => 16_384,
                        6 => codec::MAX_SUBSCRIPTION_IDENTIFIER,
                        // 0 is refused.
                        _ => self.input.u32(),
                    };
                    properties.varint(property::SUBSCRIPTION_IDENTIFIER, identifier);
                }
                if bits & 2 != 0 {
                    self.user_properties(&mut properties);
                }
                if bits & 4 != 0 {
                    self.invalid_property(&mut properties);
                }
                codec::encode_as(
                    &Packet::Subscribe(Subscribe {
                        packet_id,
                        filters: filters.iter().map(|(f, o)| (f.as_str(), *o)).collect(),
                        properties: properties.unchecked(),
                    }),
                    Protocol::V5,
                    &mut out,
                )
            }
            8 => {
                let packet_id = self.input.packet_id();
                let n = 1 + self.input.byte() % 2;
                let filters: Vec<String> = (0..n).map(|_| self.input.word(&FILTERS5)).collect();
                let mut properties = PropertiesBuilder::new();
                let bits = self.input.byte();
                if bits & 1 != 0 {
                    self.user_properties(&mut properties);
                }
                if bits & 2 != 0 {
                    self.invalid_property(&mut properties);
                }
                codec::encode_as(
                    &Packet::Unsubscribe(Unsubscribe {
                        packet_id,
                        filters: filters.iter().map(String::as_str).collect(),
                        properties: properties.unchecked(),
                    }),
                    Protocol::V5,
                    &mut out,
                )
            }
            9 => codec::encode_as(&Packet::PingReq, Protocol::V5, &mut out),
            10 => {
                let b = self.input.byte();
                let reason = ReasonCode(match b % 8 {
                    0..=2 => 0x00,
                    3 | 4 => 0x04,
                    5 => 0x80,
                    6 => 0x8E,
                    _ => 0x9C,
                });
                let mut properties = PropertiesBuilder::new();
                let bits = self.input.byte();
                if bits & 1 != 0 {
                    let expiry = match self.input.byte() % 4 {
                        0 => 0,
                        1 => 1,
                        2 => 30,
                        _ => u32::MAX,
                    };
                    properties.four_byte(property::SESSION_EXPIRY_INTERVAL, expiry);
                }
                if bits & 2 != 0 {
                    properties.string(property::REASON_STRING, "bye");
                }
                if bits & 4 != 0 {
                    self.user_properties(&mut properties);
                }
                if bits & 8 != 0 {
                    self.invalid_property(&mut properties);
                }
                codec::encode_as(
                    &Packet::Disconnect(Reasoned {
                        reason,
                        properties: properties.unchecked(),
                    }),
                    Protocol::V5,
                    &mut out,
                )
            }
            11 => {
                // What a client may not send.
                let packet = match self.input.byte() % 4 {
                    0 => Packet::ConnAck(ConnAck {
                        session_present: false,
                        code: ReasonCode::SUCCESS,
                        properties: Properties::EMPTY,
                    }),
                    1 => Packet::SubAck(SubAck {
                        packet_id: 1,
                        codes: vec![ReasonCode::UNSPECIFIED_ERROR],
                        properties: Properties::EMPTY,
                    }),
                    2 => Packet::UnsubAck(UnsubAck {
                        packet_id: 1,
                        codes: vec![ReasonCode::SUCCESS],
                        properties: Properties::EMPTY,
                    }),
                    _ => Packet::PingResp,
                };
                codec::encode_as(&packet, Protocol::V5, &mut out)
            }
            _ => {
                // AUTH: no enhanced authentication is ever under way.
                let b = self.input.byte();
                let reason = ReasonCode([0x00, 0x18, 0x19][usize::from(b % 3)]);
                let mut properties = PropertiesBuilder::new();
                if b & 4 != 0 {
                    properties.string(property::AUTHENTICATION_METHOD, "SCRAM-SHA-1");
                }
                if b & 8 != 0 {
                    properties.binary(property::AUTHENTICATION_DATA, b"\x01\x02");
                }
                codec::encode_as(
                    &Packet::Auth(Reasoned {
                        reason,
                        properties: properties.unchecked(),
                    }),
                    Protocol::V5,
                    &mut out,
                )
            }
        };
        encoded.expect("the script builds only encodable packets");
        out
    }

    /// CONNECT properties: Session Expiry Interval (0 and 0xFFFFFFFF
    /// among others), Receive Maximum (mostly 1 to 4), Maximum Packet Size
    /// (sometimes small), Topic Alias Maximum, the two requests, User
    /// Properties, sometimes an Authentication Method or an invalid
    /// property.
    pub(super) fn connect_properties(&mut self) -> PropertiesBuilder {
        let mut p = PropertiesBuilder::new();
        let bits = self.input.byte();
        if bits & 1 != 0 {
            let expiry = match self.input.byte() % 6 {
                0 => 0,
                1 => 1,
                2 => 30,
                3 => 3600,
                4 => u32::MAX,
                _ => self.input.u32(),
            };
            p.four_byte(property::SESSION_EXPIRY_INTERVAL, expiry);
        }
        if bits & 2 != 0 {
            let b = self.input.byte();
            let maximum = match b % 8 {
                0..=4 => u16::from(b % 4) + 1,
                5 => 100,
                6 => u16::MAX,
                // 0 is refused.
                _ => self.input.u16(),
            };
            p.two_byte(property::RECEIVE_MAXIMUM, maximum);
        }
        if bits & 4 != 0 {
            let b = self.input.byte();
            let size = match b % 6 {
                0 => 20 + u32::from(self.input.byte()),
                1 => 64 + 4 * u32::from(self.input.byte()),
                2 => 1024,
                3 => 10 * 1024,
                4 => u32::MAX,
                // 0 is refused.
                _ => self.input.u32(),
            };
            p.four_byte(property::MAXIMUM_PACKET_SIZE, size);
        }
        if bits & 8 != 0 {
            let maximum = match self.input.byte() % 6 {
                0 => 0,
                1 => 1,
                2 => 2,
                3 => 3,
                4 => 10,
                _ => u16::MAX,
            };
            p.two_byte(property::TOPIC_ALIAS_MAXIMUM, maximum);
        }
        if bits & 16 != 0 {
            p.byte(property::REQUEST_PROBLEM_INFORMATION, self.input.byte() & 1);
        }
        if bits & 32 != 0 {
            p.byte(
                property::REQUEST_RESPONSE_INFORMATION,
                self.input.byte() & 1,
            );
        }
        if bits & 64 != 0 {
            self.user_properties(&mut p);
        }
        if bits & 128 != 0 {
            let b = self.input.byte();
            match b % 4 {
                0 | 1 => {
                    p.string(property::AUTHENTICATION_METHOD, "SCRAM-SHA-1");
                    if b & 4 != 0 {
                        p.binary(property::AUTHENTICATION_DATA, b"\x01\x02");
                    }
                }
                _ => self.invalid_property(&mut p),
            }
        }
        p
    }

    /// The properties of a PUBLISH (`will`: of a will) of an MQTT 5
    /// client: Message Expiry Interval, Payload Format Indicator, Content
    /// Type, Response Topic, Correlation Data, User Properties and the
    /// script's tag; in a PUBLISH a Topic Alias (valid or not), in a will a
    /// Will Delay Interval; sometimes a Subscription Identifier (which a
    /// client may not send) or an invalid property.
    pub(super) fn message_properties(&mut self, will: bool) -> PropertiesBuilder {
        let mut p = PropertiesBuilder::new();
        let bits = self.input.byte();
        if bits & 1 != 0 {
            let expiry = match self.input.byte() % 5 {
                0 => 0,
                1 => 1,
                2 => 5,
                3 => 3600,
                _ => u32::MAX,
            };
            p.four_byte(property::MESSAGE_EXPIRY_INTERVAL, expiry);
        }
        if bits & 2 != 0 {
            if will {
                let delay = match self.input.byte() % 5 {
                    0 => 0,
                    1 => 1,
                    2 => 5,
                    3 => 60,
                    _ => u32::MAX,
                };
                p.four_byte(property::WILL_DELAY_INTERVAL, delay);
            } else {
                let b = self.input.byte();
                // Mostly valid (the broker takes up to 10).
                let alias = match b % 8 {
                    0..=4 => u16::from(b % 3) + 1,
                    5 => 10,
                    6 => 0,
                    _ => 11,
                };
                p.two_byte(property::TOPIC_ALIAS, alias);
            }
        }
        if bits & 4 != 0 {
            p.byte(property::PAYLOAD_FORMAT_INDICATOR, self.input.byte() & 1);
        }
        if bits & 8 != 0 {
            let text = self.input.word(&TEXTS);
            p.string(property::CONTENT_TYPE, &text);
        }
        if bits & 16 != 0 {
            let topic = self.input.word(&TOPICS);
            p.string(property::RESPONSE_TOPIC, &topic);
        }
        if bits & 32 != 0 {
            let data = self.input.bytes(16).to_vec();
            p.binary(property::CORRELATION_DATA, &data);
        }
        if bits & 64 != 0 {
            self.user_properties(&mut p);
        }
        let tag = self.next_tag;
        self.next_tag += 1;
        p.user_property(TAG_KEY, &tag.to_string());
        if bits & 128 != 0 {
            let b = self.input.byte();
            match b % 3 {
                0 if !will => {
                    p.varint(property::SUBSCRIPTION_IDENTIFIER, u32::from(b) + 1);
                }
                _ => self.invalid_property(&mut p),
            }
        }
        p
    }

    /// Reason String and User Properties, sometimes, for an
    /// acknowledgement.
    fn reply_properties(&mut self) -> PropertiesBuilder {
        let mut p = PropertiesBuilder::new();
        let bits = self.input.byte();
        if bits & 1 != 0 {
            p.string(property::REASON_STRING, "why");
        }
        if bits & 2 != 0 {
            self.user_properties(&mut p);
        }
        if bits & 4 != 0 && bits & 8 != 0 {
            self.invalid_property(&mut p);
        }
        p
    }

    /// One or two User Properties.
    fn user_properties(&mut self, p: &mut PropertiesBuilder) {
        let n = 1 + self.input.byte() % 2;
        for _ in 0..n {
            let key = self.input.word(&TEXTS);
            let value = self.input.word(&TEXTS);
            p.user_property(&key, &value);
        }
    }

    /// A property the decoder must refuse in most packets: unknown, not
    /// allowed there, repeated, of a forbidden value, or raw bytes.
    fn invalid_property(&mut self, p: &mut PropertiesBuilder) {
        match self.input.byte() % 7 {
            0 => {
                p.byte(0x05, 0);
            }
            1 => {
                p.two_byte(property::TOPIC_ALIAS, 1);
            }
            2 => {
                p.byte(property::PAYLOAD_FORMAT_INDICATOR, 2);
            }
            3 => {
                p.byte(property::REQUEST_PROBLEM_INFORMATION, 1)
                    .byte(property::REQUEST_PROBLEM_INFORMATION, 1);
            }
            4 => {
                p.two_byte(property::RECEIVE_MAXIMUM, 0);
            }
            5 => {
                p.four_byte(property::SESSION_EXPIRY_INTERVAL, 1);
            }
            _ => {
                let raw = self.input.bytes(8).to_vec();
                p.raw(&raw);
            }
        }
    }
}
