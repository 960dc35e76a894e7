//! Authentication and authorization from mosquitto-compatible files.
//!
//! - [`PasswordFile`]: usernames and password hashes, as written by
//!   `mosquitto_passwd` (`$7$` PBKDF2-SHA512 and the older `$6$` SHA-512).
//! - [`AclFile`]: topic access rules in mosquitto's `acl_file` format, with
//!   per-user sections and `%c` / `%u` patterns.
//!
//! Both parse from text or load from a path, and report a malformed line as
//! [`crate::Error::Config`] naming the file and the line.

mod acl_file;
pub(crate) mod files;
mod password_file;

pub use acl_file::{Access, AclFile};
pub use password_file::{
    hash_password_pbkdf2, hash_password_sha512, PasswordFile, DEFAULT_ITERATIONS, HASH_LEN,
    SALT_LEN,
};
