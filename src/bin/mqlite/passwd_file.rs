//! The edits `mqlite passwd` makes to a password file's text, and writing
//! it back. Lines it is not asked about (comments, blank lines, other
//! users) are kept as they are.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use mqlite::auth::{hash_password_pbkdf2, hash_password_sha512, PasswordFile, SALT_LEN};

/// How to hash a password (`-H` and `-I`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hashing {
    /// `$7$`, PBKDF2-HMAC-SHA512 with this many iterations.
    Pbkdf2(std::num::NonZeroU32),
    /// `$6$`, one round of salted SHA-512 (mosquitto 1.x).
    Sha512,
}

impl Hashing {
    /// `password` hashed with a fresh random salt, as it follows `user:`.
    pub fn hash(self, password: &[u8]) -> Result<String, String> {
        let salt = salt()?;
        Ok(match self {
            Hashing::Pbkdf2(iterations) => hash_password_pbkdf2(password, &salt, iterations),
            Hashing::Sha512 => hash_password_sha512(password, &salt),
        })
    }
}

/// Twelve bytes from the kernel's random source.
fn salt() -> Result<[u8; SALT_LEN], String> {
    let mut salt = [0; SALT_LEN];
    File::open("/dev/urandom")
        .and_then(|mut random| random.read_exact(&mut salt))
        .map_err(|error| format!("cannot read /dev/urandom for a salt: {error}"))?;
    Ok(salt)
}

/// The user name of a line, if it is an entry (as the broker reads it:
/// blanks around the name do not count).
fn user_of(line: &str) -> Option<&str> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    line.split_once(':').map(|(user, _)| user.trim())
}

/// `text` with `user`'s entry set to `hash`: its first line replaced (any
/// later ones for the same user dropped, as the broker would read the
/// last), or a line added at the end.
pub fn set(text: &str, user: &str, hash: &str) -> String {
    let entry = format!("{user}:{hash}");
    let mut out = String::with_capacity(text.len() + entry.len() + 1);
    let mut done = false;
    for line in text.lines() {
        if user_of(line) == Some(user) {
            if !done {
                out.push_str(&entry);
                out.push('\n');
                done = true;
            }
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    if !done {
        out.push_str(&entry);
        out.push('\n');
    }
    out
}

/// `text` without `user`'s lines; `None` when it has none.
pub fn delete(text: &str, user: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut found = false;
    for line in text.lines() {
        if user_of(line) == Some(user) {
            found = true;
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    found.then_some(out)
}

/// Whether `field` (what follows `user:`) is a hash the broker reads.
fn is_hash(field: &str) -> bool {
    PasswordFile::parse(&format!("u:{field}"), "").is_ok()
}

/// `text` with each plain-text password hashed, and how many were.
/// Entries already hashed are kept: mosquitto_passwd `-U` would hash
/// their hash, locking their users out.
pub fn upgrade(text: &str, hashing: Hashing) -> Result<(String, usize), String> {
    let mut out = String::with_capacity(text.len() * 2);
    let mut hashed = 0;
    for line in text.lines() {
        match (user_of(line), line.split_once(':')) {
            (Some(user), Some((_, password))) if !is_hash(password.trim()) => {
                // Blanks around it are not part of it, as for a user name
                // and as mosquitto 1.x read plain-text files.
                let password = password.trim();
                out.push_str(&format!("{user}:{}\n", hashing.hash(password.as_bytes())?));
                hashed += 1;
            }
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    Ok((out, hashed))
}

/// Replaces the file at `path` with `text`, through a temporary file in
/// the same directory renamed over it, so that a broker reading it (on
/// SIGHUP) sees the old file or the new one, never half of one. A file
/// that existed keeps its mode and owner (so another user's file takes
/// root to change); a new one is readable by its owner only.
pub fn write(path: &Path, text: &str) -> Result<(), String> {
    let fail = |what: &str, error: std::io::Error| format!("{what} {}: {error}", path.display());
    let old = match std::fs::metadata(path) {
        Ok(metadata) => Some(metadata),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(error) => return Err(fail("cannot read", error)),
    };
    let temp = temp_path(path);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(old.as_ref().map_or(0o600, |m| m.mode() & 0o7777))
        .open(&temp)
        .map_err(|error| fail("cannot write next to", error))?;
    let result = (|| {
        if let Some(old) = &old {
            // The broker may read the file through its group (root's file,
            // group mosquitto, mode 640): the new one must keep both.
            let new = file.metadata()?;
            if (new.uid(), new.gid()) != (old.uid(), old.gid()) {
                std::os::unix::fs::fchown(&file, Some(old.uid()), Some(old.gid()))?;
            }
            file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(
                old.mode() & 0o7777,
            ))?;
        }
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if let Err(error) = result {
        let _ = std::fs::remove_file(&temp);
        return Err(fail("cannot replace", error));
    }
    Ok(())
}

/// `FILE.tmp-PID` beside `path`.
fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp-{}", std::process::id()));
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "# users\nalice:$7$old\n\n bob : $6$x\nalice:$7$dup\n";

    #[test]
    fn set_replaces_the_first_entry_and_keeps_the_rest() {
        assert_eq!(
            set(FILE, "alice", "$7$new"),
            "# users\nalice:$7$new\n\n bob : $6$x\n"
        );
        assert_eq!(
            set(FILE, "bob", "$7$b"),
            "# users\nalice:$7$old\n\nbob:$7$b\nalice:$7$dup\n"
        );
        assert_eq!(set("", "carol", "$7$c"), "carol:$7$c\n");
        assert_eq!(set("x:$7$y", "carol", "$7$c"), "x:$7$y\ncarol:$7$c\n");
    }

    #[test]
    fn delete_drops_every_entry_of_the_user() {
        assert_eq!(
            delete(FILE, "alice").as_deref(),
            Some("# users\n\n bob : $6$x\n")
        );
        assert_eq!(delete(FILE, "carol"), None);
        assert_eq!(delete(FILE, "# users"), None, "a comment is no entry");
    }

    #[test]
    fn upgrade_hashes_plain_passwords_only() {
        let kept = hash_password_sha512(b"pw", b"saltsaltsalt");
        let text = format!("# c\nplain:secret\nhashed:{kept}\n\nspaced: a b \n");
        let (out, hashed) = upgrade(&text, Hashing::Sha512).unwrap();
        assert_eq!(hashed, 2);
        let file = PasswordFile::parse(&out, "upgraded").unwrap();
        assert!(file.check("plain", b"secret"));
        assert!(file.check("hashed", b"pw"));
        assert!(file.check("spaced", b"a b"));
        assert!(out.starts_with("# c\n") && out.contains("\n\n"));
    }

    #[test]
    fn write_keeps_the_mode_and_replaces_whole() {
        let dir = std::env::temp_dir().join(format!("mqlite-passwd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("pw");
        let _ = std::fs::remove_file(&path);
        write(&path, "a:1\n").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().mode() & 0o777;
        assert_eq!(mode(&path), 0o600, "a new file is its owner's only");
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o640))
            .unwrap();
        write(&path, "b:2\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "b:2\n");
        assert_eq!(mode(&path), 0o640);
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file left");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
