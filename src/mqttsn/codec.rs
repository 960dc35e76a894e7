//! MQTT-SN 1.2 datagrams: encoding and decoding (see `packet.rs`).
