//! The writer of MQTT 5 property blocks: what the broker and tests send.

use super::properties::{id, Properties, PropertyContext, MAX_SUBSCRIPTION_IDENTIFIER};
use super::varint::write_remaining_length;
use super::DecodeError;

/// Writes property blocks: what the broker and tests send.
///
/// Values are appended in call order; [`PropertiesBuilder::properties`]
/// checks the block (so a caller cannot send what a peer must refuse).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PropertiesBuilder {
    bytes: Vec<u8>,
}

impl PropertiesBuilder {
    /// An empty block.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty block with room for `bytes` bytes.
    pub fn with_capacity(bytes: usize) -> Self {
        PropertiesBuilder {
            bytes: Vec::with_capacity(bytes),
        }
    }

    /// Appends a byte property.
    pub fn byte(&mut self, property: u8, value: u8) -> &mut Self {
        self.bytes.extend_from_slice(&[property, value]);
        self
    }

    /// Appends a two-byte integer property.
    pub fn two_byte(&mut self, property: u8, value: u16) -> &mut Self {
        self.bytes.push(property);
        self.bytes.extend_from_slice(&value.to_be_bytes());
        self
    }

    /// Appends a four-byte integer property.
    pub fn four_byte(&mut self, property: u8, value: u32) -> &mut Self {
        self.bytes.push(property);
        self.bytes.extend_from_slice(&value.to_be_bytes());
        self
    }

    /// Appends a variable byte integer property (at most
    /// [`MAX_SUBSCRIPTION_IDENTIFIER`]; larger values are clamped).
    pub fn varint(&mut self, property: u8, value: u32) -> &mut Self {
        self.bytes.push(property);
        let value = value.min(MAX_SUBSCRIPTION_IDENTIFIER) as usize;
        write_remaining_length(&mut self.bytes, value);
        self
    }

    /// Appends a string property (cut at 65 535 bytes, on a character
    /// boundary).
    pub fn string(&mut self, property: u8, value: &str) -> &mut Self {
        self.bytes.push(property);
        write_str(&mut self.bytes, value);
        self
    }

    /// Appends a binary property (cut at 65 535 bytes).
    pub fn binary(&mut self, property: u8, value: &[u8]) -> &mut Self {
        self.bytes.push(property);
        let value = &value[..value.len().min(usize::from(u16::MAX))];
        self.bytes
            .extend_from_slice(&(value.len() as u16).to_be_bytes());
        self.bytes.extend_from_slice(value);
        self
    }

    /// Appends a User Property.
    pub fn user_property(&mut self, key: &str, value: &str) -> &mut Self {
        self.bytes.push(id::USER_PROPERTY);
        write_str(&mut self.bytes, key);
        write_str(&mut self.bytes, value);
        self
    }

    /// Appends properties already encoded (a validated block's bytes).
    pub fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.bytes.extend_from_slice(bytes);
        self
    }

    /// The block's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The block as properties of `context`, or why a peer would refuse it.
    pub fn properties(&self, context: PropertyContext) -> Result<Properties<'_>, DecodeError> {
        Properties::parse(&self.bytes, context)
    }

    /// The block without checking it: for tests that send what a peer must
    /// refuse.
    pub fn unchecked(&self) -> Properties<'_> {
        Properties::unchecked(&self.bytes)
    }
}

/// Writes a string field cut to 65 535 bytes at a character boundary.
fn write_str(out: &mut Vec<u8>, value: &str) {
    let mut end = value.len().min(usize::from(u16::MAX));
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    out.extend_from_slice(&(end as u16).to_be_bytes());
    out.extend_from_slice(&value.as_bytes()[..end]);
}
