//! Turning `Config::password_file`, `Config::acl_file` and
//! `Config::allow_anonymous` (and the same settings of each custom
//! listener) into the broker's authentication and ACL hooks, with
//! mosquitto 2.0's decisions.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::{Access, AclFile, PasswordFile};
use crate::hooks::{AclAccess, AclHook, AuthDecision, AuthHook, ConnectInfo};
use crate::{Config, Error};

/// The hooks a config's files call for (`None` where it names no file).
pub(crate) struct FileHooks {
    pub(crate) auth: Option<AuthHook>,
    pub(crate) acl: Option<AclHook>,
    /// The password file each listener checks passwords against, to check
    /// connected clients again after a reload.
    pub(crate) passwords: PasswordFiles,
}

/// The password file each listener checks the passwords of its clients
/// against (none where the listener has no password file, or names its
/// clients by their certificate).
#[derive(Default)]
pub(crate) struct PasswordFiles {
    /// One entry per listener, as `ConnectInfo::listener` counts them.
    listeners: Vec<Option<Arc<PasswordFile>>>,
    /// For a listener number past the end (the broker-wide file).
    fallback: Option<Arc<PasswordFile>>,
}

impl PasswordFiles {
    /// The password file that authenticates a client giving a user name on
    /// `listener`, if one does.
    pub(crate) fn for_listener(&self, listener: u16) -> Option<&PasswordFile> {
        match self.listeners.get(usize::from(listener)) {
            Some(file) => file.as_deref(),
            None => self.fallback.as_deref(),
        }
    }
}

/// How one listener authenticates its clients.
struct ListenerAuth {
    passwords: Option<Arc<PasswordFile>>,
    allow_anonymous: bool,
    /// The TLS handshake verified the client's certificate, which named
    /// the user (`use_identity_as_username` / `use_subject_as_username`):
    /// no password to check, as in mosquitto.
    by_certificate: bool,
}

impl ListenerAuth {
    /// Whether this listener lets everyone in (no hook needed for it).
    fn lets_everyone_in(&self) -> bool {
        self.passwords.is_none() && self.allow_anonymous
    }

    fn decide(&self, info: &ConnectInfo<'_>) -> AuthDecision {
        if info.authentication_method.is_some() {
            // The files know user names and passwords, no other method.
            return AuthDecision::Refuse(crate::codec::ReasonCode::BAD_AUTHENTICATION_METHOD);
        }
        // mosquitto answers 0x05 for every refusal, so do we: a client
        // gets the same answer from both brokers.
        let accepted = match (info.username, &self.passwords) {
            (Some(_), _) if self.by_certificate => true,
            (None, _) => self.allow_anonymous,
            (Some(username), Some(passwords)) => {
                passwords.check(username, info.password.unwrap_or(b""))
            }
            // No file to check a user name against: a user name proves
            // nothing, so the client counts as anonymous (mosquitto 2.0
            // refuses every client here when anonymous clients are not
            // allowed).
            (Some(_), None) => self.allow_anonymous,
        };
        if accepted {
            AuthDecision::Accept
        } else {
            AuthDecision::NotAuthorized
        }
    }
}

/// Loads the files named by `config` and its listeners (errors name the
/// file and line). A file named by several listeners is read once.
pub(crate) fn load(config: &Config) -> Result<FileHooks, Error> {
    let mut password_files: HashMap<PathBuf, Arc<PasswordFile>> = HashMap::new();
    let mut acl_files: HashMap<PathBuf, Arc<AclFile>> = HashMap::new();
    let mut load_passwords = |path: &Option<PathBuf>| -> Result<_, Error> {
        let Some(path) = path else { return Ok(None) };
        if let Some(file) = password_files.get(path) {
            return Ok(Some(Arc::clone(file)));
        }
        let file = Arc::new(PasswordFile::load(path)?);
        password_files.insert(path.clone(), Arc::clone(&file));
        Ok(Some(file))
    };
    let mut load_acl = |path: &Option<PathBuf>| -> Result<_, Error> {
        let Some(path) = path else { return Ok(None) };
        if let Some(file) = acl_files.get(path) {
            return Ok(Some(Arc::clone(file)));
        }
        let file = Arc::new(AclFile::load(path)?);
        acl_files.insert(path.clone(), Arc::clone(&file));
        Ok(Some(file))
    };

    let passwords = load_passwords(&config.password_file)?;
    // Anonymous clients are allowed unless a password file is given, or
    // the config says otherwise.
    let broker_wide = ListenerAuth {
        allow_anonymous: config.allow_anonymous.unwrap_or(passwords.is_none()),
        passwords,
        by_certificate: false,
    };
    let broker_acl = load_acl(&config.acl_file)?;
    // One entry per listener, plain ones first (`ConnectInfo::listener`).
    let mut auths = Vec::new();
    let mut acls = Vec::new();
    for _ in &config.listeners {
        auths.push(ListenerAuth {
            passwords: broker_wide.passwords.clone(),
            ..broker_wide
        });
        acls.push(broker_acl.clone());
    }
    for listener in &config.custom_listeners {
        let passwords = match &listener.password_file {
            Some(_) => load_passwords(&listener.password_file)?,
            None => broker_wide.passwords.clone(),
        };
        let allow_anonymous = match (listener.allow_anonymous, &listener.password_file) {
            (Some(allow), _) => allow,
            (None, Some(_)) => false,
            (None, None) => broker_wide.allow_anonymous,
        };
        let by_certificate = listener
            .tls
            .as_ref()
            .is_some_and(|tls| tls.use_identity_as_username || tls.use_subject_as_username);
        auths.push(ListenerAuth {
            passwords,
            allow_anonymous,
            by_certificate,
        });
        acls.push(match &listener.acl_file {
            Some(_) => load_acl(&listener.acl_file)?,
            None => broker_acl.clone(),
        });
    }

    let passwords = PasswordFiles {
        listeners: auths
            .iter()
            .map(|auth| match auth.by_certificate {
                true => None,
                false => auth.passwords.clone(),
            })
            .collect(),
        fallback: broker_wide.passwords.clone(),
    };
    let auth: Option<AuthHook> = if auths.iter().all(ListenerAuth::lets_everyone_in) {
        None
    } else {
        Some(Box::new(move |info| {
            match auths.get(usize::from(info.listener)) {
                Some(listener) => listener.decide(info),
                None => broker_wide.decide(info),
            }
        }))
    };
    let acl: Option<AclHook> = if acls.iter().all(Option::is_none) && broker_acl.is_none() {
        None
    } else {
        Some(Box::new(move |client, access, topic| {
            let rules = match acls.get(usize::from(client.listener)) {
                Some(rules) => rules.as_deref(),
                None => broker_acl.as_deref(),
            };
            let Some(rules) = rules else {
                return true;
            };
            let access = match access {
                AclAccess::Publish => Access::Write,
                AclAccess::Subscribe => Access::Subscribe,
                AclAccess::Receive => Access::Read,
            };
            rules.check(client.client_id, client.username, topic, access)
        }))
    };
    Ok(FileHooks {
        auth,
        acl,
        passwords,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Protocol;
    use crate::hooks::{AuthToken, ConnectInfo};

    /// The four kinds of client the table in `docs/ACCESS.md` is about.
    const CLIENTS: [(Option<&str>, Option<&[u8]>); 4] = [
        (None, None),
        (Some("alice"), Some(b"wonderland")),
        (Some("alice"), Some(b"wrong")),
        (Some("mallory"), Some(b"anything")),
    ];

    /// Whether each of `CLIENTS` is let in under `config`'s files alone.
    fn decisions(config: &Config) -> [bool; 4] {
        let hooks = load(config).expect("the files load");
        let Some(mut auth) = hooks.auth else {
            return [true; 4];
        };
        let peer = crate::Peer::Tcp(([127, 0, 0, 1], 1).into());
        CLIENTS.map(|(username, password)| {
            let info = ConnectInfo {
                client_id: "c",
                username,
                password,
                protocol: Protocol::V311,
                clean_session: true,
                peer: &peer,
                listener: 0,
                certificate: None,
                token: AuthToken::from_u64(0),
                authentication_method: None,
                authentication_data: None,
                step: 0,
                reauthentication: false,
                properties: crate::codec::Properties::EMPTY,
            };
            auth(&info) == AuthDecision::Accept
        })
    }

    /// The password file a reload checks connected clients against: the
    /// configured one, for every listener (and past the end), none without
    /// one.
    #[test]
    fn password_files_per_listener_for_the_reload_check() {
        let passwd = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/passwd_pbkdf2");
        let config = Config {
            password_file: Some(passwd.into()),
            ..Config::default()
        };
        let hooks = load(&config).expect("the files load");
        for listener in [0, 7] {
            let file = hooks.passwords.for_listener(listener).expect("a file");
            assert!(file.check("alice", b"wonderland"));
            assert!(!file.check("alice", b"wrong"));
        }
        let hooks = load(&Config::default()).expect("no files");
        assert!(hooks.passwords.for_listener(0).is_none());
    }

    /// Every combination of password file, ACL file and anonymous setting,
    /// decided as mosquitto 2.0.11 decides it (`mosquitto_unpwd_check`):
    /// without a password file, a user name proves nothing.
    #[test]
    fn access_matrix_matches_mosquitto() {
        let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");
        let passwd = format!("{fixtures}passwd_pbkdf2");
        let acl = format!("{fixtures}acl_crosscheck");
        let all = [true; 4];
        let none = [false; 4];
        let file_only = [false, true, false, false];
        let file_or_anonymous = [true, true, false, false];
        for acl_file in [None, Some(acl.as_str())] {
            for (password_file, anonymous, expected) in [
                (None, None, all),
                (None, Some(true), all),
                (None, Some(false), none),
                (Some(passwd.as_str()), None, file_only),
                (Some(passwd.as_str()), Some(false), file_only),
                (Some(passwd.as_str()), Some(true), file_or_anonymous),
            ] {
                let config = Config {
                    password_file: password_file.map(Into::into),
                    acl_file: acl_file.map(Into::into),
                    allow_anonymous: anonymous,
                    ..Config::default()
                };
                assert_eq!(
                    decisions(&config),
                    expected,
                    "password file {password_file:?}, ACL file {acl_file:?}, \
                     allow_anonymous {anonymous:?}"
                );
            }
        }
    }
}
