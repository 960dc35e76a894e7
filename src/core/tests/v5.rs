//! MQTT 5 in the core: properties, reason codes, flow control.
