//! Password files in the format written by `mosquitto_passwd`: see
//! [`PasswordFile`].

use std::collections::HashMap;
use std::fmt;
use std::num::NonZeroU32;
use std::path::Path;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use sha2::{Digest, Sha512};
use subtle::ConstantTimeEq;

use crate::Error;

/// The `field` of the [`Error::Config`] returned for password files.
const FIELD: &str = "password_file";

/// The length of the salt, in bytes, in both hash formats (mosquitto's
/// `SALT_LEN`).
pub const SALT_LEN: usize = 12;

/// The length of the stored hash, in bytes: a SHA-512 digest.
pub const HASH_LEN: usize = 64;

/// The PBKDF2 iteration count `mosquitto_passwd` 2.0 uses by default
/// (mosquitto's `PW_DEFAULT_ITERATIONS`).
pub const DEFAULT_ITERATIONS: NonZeroU32 = match NonZeroU32::new(101) {
    Some(n) => n,
    None => unreachable!(),
};

/// The longest username mosquitto accepts in a password file (the MQTT
/// string limit).
const MAX_USERNAME_LEN: usize = 65_535;

/// One decoded password hash.
#[derive(Clone, PartialEq, Eq)]
enum PasswordHash {
    /// `$6$`: `SHA512(password ‖ salt)`.
    Sha512 {
        salt: [u8; SALT_LEN],
        hash: [u8; HASH_LEN],
    },
    /// `$7$`: PBKDF2-HMAC-SHA512.
    Pbkdf2Sha512 {
        iterations: NonZeroU32,
        salt: [u8; SALT_LEN],
        hash: [u8; HASH_LEN],
    },
}

impl PasswordHash {
    /// Whether `password` hashes to the stored hash, compared in constant
    /// time.
    fn verify(&self, password: &[u8]) -> bool {
        let (derived, stored) = match self {
            PasswordHash::Sha512 { salt, hash } => (sha512_salted(password, salt), hash),
            PasswordHash::Pbkdf2Sha512 {
                iterations,
                salt,
                hash,
            } => (pbkdf2_sha512(password, salt, *iterations), hash),
        };
        derived.ct_eq(stored).into()
    }
}

/// The usernames and password hashes of one password file.
///
/// Build one with [`PasswordFile::load`] or [`PasswordFile::parse`], then
/// authenticate CONNECTs with [`PasswordFile::check`].
///
/// One `username:hash` entry per line. Two hash formats are understood, the
/// ones mosquitto 2.0 reads (`src/security_default.c`, `pw__digest` and
/// `unpwd__decode_passwords`):
///
/// - `$7$<iterations>$<salt>$<hash>`: PBKDF2-HMAC-SHA512 of the password with
///   the salt, `iterations` rounds, 64 bytes of output. Written by
///   `mosquitto_passwd` 2.0 by default, with 101 iterations (`-I` changes it).
/// - `$6$<salt>$<hash>`: SHA-512 of the password bytes followed by the salt
///   bytes, `SHA512(password ‖ salt)`, one round. Written by mosquitto 1.x and
///   by `mosquitto_passwd -H sha512`.
///
/// The salt is 12 bytes and the hash 64 bytes, both base64 with the standard
/// alphabet and `=` padding; mosquitto refuses other lengths, and so does
/// this type.
///
/// Lines are handled like mosquitto does: the username and the hash are
/// trimmed of surrounding whitespace, lines starting with `#` and blank lines
/// are skipped, and if a username appears twice the last line wins. Unlike
/// mosquitto, which logs and drops entries it cannot decode (and silently
/// skips lines without a `:`), any malformed line is an error naming the file
/// and line, so a typo cannot lock a user out unnoticed.
#[derive(Clone, Default)]
pub struct PasswordFile {
    users: HashMap<String, PasswordHash>,
}

impl fmt::Debug for PasswordFile {
    /// Lists the usernames only, never the hashes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&str> = self.users.keys().map(String::as_str).collect();
        names.sort_unstable();
        f.debug_struct("PasswordFile")
            .field("users", &names)
            .finish()
    }
}

impl PasswordFile {
    /// Reads and parses the password file at `path`.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] with `field` `"password_file"` if the file cannot be
    /// read, is not UTF-8, or has a malformed line; the `reason` names the
    /// file (and the line, for a malformed one).
    pub fn load(path: &Path) -> Result<PasswordFile, Error> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| Error::Config {
            field: FIELD.to_string(),
            reason: format!("{origin}: {e}"),
        })?;
        PasswordFile::parse(&text, &origin)
    }

    /// Parses the text of a password file; `origin` (usually the file's
    /// path) is only used in error messages.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] with `field` `"password_file"` and a `reason` of the
    /// form `<origin>:<line>: <what is wrong>` for the first line that is not
    /// blank, not a `#` comment and not a valid `username:$6$...` or
    /// `username:$7$...` entry.
    pub fn parse(text: &str, origin: &str) -> Result<PasswordFile, Error> {
        let mut users = HashMap::new();
        for (index, raw) in text.lines().enumerate() {
            let line = trim_c_space(raw);
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fail = |what: String| Error::Config {
                field: FIELD.to_string(),
                reason: format!("{origin}:{}: {what}", index + 1),
            };
            let (username, hash) = line
                .split_once(':')
                .ok_or_else(|| fail("expected `username:hash`, found no `:`".to_string()))?;
            let username = trim_c_space(username);
            let hash = trim_c_space(hash);
            if username.is_empty() {
                return Err(fail("empty username".to_string()));
            }
            if username.len() > MAX_USERNAME_LEN {
                return Err(fail(format!(
                    "username longer than {MAX_USERNAME_LEN} bytes"
                )));
            }
            if hash.contains(':') {
                return Err(fail("unexpected `:` after the password hash".to_string()));
            }
            let decoded = decode_hash(hash).map_err(fail)?;
            // mosquitto keeps every line in a hash table and finds the one
            // added last: the last line for a username wins.
            users.insert(username.to_string(), decoded);
        }
        Ok(PasswordFile { users })
    }

    /// Whether `username` is in the file and `password` is its password.
    ///
    /// The password is hashed with the user's salt (and iteration count) and
    /// compared with the stored hash in constant time. An unknown username is
    /// refused after hashing the password anyway (with
    /// [`DEFAULT_ITERATIONS`]), so its refusal takes about as long as a wrong
    /// password's.
    ///
    /// All bytes of `password` are hashed: MQTT passwords are binary data.
    /// (mosquitto hashes the password as a C string, ignoring anything from
    /// the first NUL byte on; here a password with a NUL byte followed by
    /// more bytes only matches a hash of those same bytes. As with any
    /// HMAC-based KDF, trailing NUL bytes do not change a `$7$` hash.)
    pub fn check(&self, username: &str, password: &[u8]) -> bool {
        match self.users.get(username) {
            Some(hash) => hash.verify(password),
            None => {
                let _ = pbkdf2_sha512(password, &[0; SALT_LEN], DEFAULT_ITERATIONS);
                false
            }
        }
    }

    /// Whether the file has an entry for `username`.
    pub fn contains(&self, username: &str) -> bool {
        self.users.contains_key(username)
    }

    /// The number of users in the file.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether the file has no users.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

/// The `$7$` hash of `password`, as `mosquitto_passwd` writes it after
/// `username:`: `$7$<iterations>$<base64 salt>$<base64 hash>`, where the hash
/// is 64 bytes of PBKDF2-HMAC-SHA512.
///
/// The salt should be [`SALT_LEN`] random bytes, fresh for each password;
/// `iterations` is usually [`DEFAULT_ITERATIONS`]. The result parses with
/// [`PasswordFile::parse`] and is accepted by mosquitto 2.0.
pub fn hash_password_pbkdf2(
    password: &[u8],
    salt: &[u8; SALT_LEN],
    iterations: NonZeroU32,
) -> String {
    let hash = pbkdf2_sha512(password, salt, iterations);
    format!(
        "$7${iterations}${}${}",
        BASE64.encode(salt),
        BASE64.encode(hash)
    )
}

/// The `$6$` hash of `password`, as `mosquitto_passwd -H sha512` writes
/// it after `username:`: `$6$<base64 salt>$<base64 hash>`, where the hash
/// is `SHA512(password ‖ salt)`. Weaker than [`hash_password_pbkdf2`]
/// (one round): for files that mosquitto 1.x must read too.
pub fn hash_password_sha512(password: &[u8], salt: &[u8; SALT_LEN]) -> String {
    let hash = sha512_salted(password, salt);
    format!("$6${}${}", BASE64.encode(salt), BASE64.encode(hash))
}

/// `SHA512(password ‖ salt)`, the `$6$` hash.
fn sha512_salted(password: &[u8], salt: &[u8; SALT_LEN]) -> [u8; HASH_LEN] {
    let mut hasher = Sha512::new();
    hasher.update(password);
    hasher.update(salt);
    hasher.finalize().into()
}

/// PBKDF2-HMAC-SHA512 of `password` with `salt`, 64 bytes, the `$7$` hash.
fn pbkdf2_sha512(password: &[u8], salt: &[u8], iterations: NonZeroU32) -> [u8; HASH_LEN] {
    let mut out = [0; HASH_LEN];
    pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations.get(), &mut out);
    out
}

/// Decodes the part after `username:`; the error says what is wrong with it.
fn decode_hash(text: &str) -> Result<PasswordHash, String> {
    let Some(fields) = text.strip_prefix('$') else {
        return Err(
            "the password is not a `$6$` or `$7$` hash (plain-text passwords are not \
             supported; hash the file with `mosquitto_passwd -U`)"
                .to_string(),
        );
    };
    let fields: Vec<&str> = fields.split('$').collect();
    match fields.as_slice() {
        ["7", iterations, salt, hash] => {
            let iterations = iterations
                .parse::<NonZeroU32>()
                .map_err(|_| format!("invalid iteration count `{iterations}` in `$7$` hash"))?;
            Ok(PasswordHash::Pbkdf2Sha512 {
                iterations,
                salt: decode_fixed(salt, "salt")?,
                hash: decode_fixed(hash, "hash")?,
            })
        }
        ["7", ..] => {
            Err("malformed `$7$` hash: expected `$7$<iterations>$<salt>$<hash>`".to_string())
        }
        ["6", salt, hash] => Ok(PasswordHash::Sha512 {
            salt: decode_fixed(salt, "salt")?,
            hash: decode_fixed(hash, "hash")?,
        }),
        ["6", ..] => Err("malformed `$6$` hash: expected `$6$<salt>$<hash>`".to_string()),
        [kind, ..] => Err(format!(
            "unknown password hash type `${kind}$` (expected `$6$` or `$7$`)"
        )),
        [] => Err("empty password hash".to_string()),
    }
}

/// Decodes one base64 field that must be exactly `N` bytes long.
fn decode_fixed<const N: usize>(text: &str, what: &str) -> Result<[u8; N], String> {
    let bytes = BASE64
        .decode(text)
        .map_err(|e| format!("invalid base64 in the {what}: {e}"))?;
    let len = bytes.len();
    <[u8; N]>::try_from(bytes).map_err(|_| format!("the {what} is {len} bytes long, expected {N}"))
}

/// Trims what C's `isspace` calls whitespace, as mosquitto's
/// `misc__trimblanks` does.
fn trim_c_space(s: &str) -> &str {
    s.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r'))
}
