//! Turning `Config::password_file`, `Config::acl_file` and
//! `Config::allow_anonymous` into the broker's authentication and ACL
//! hooks, with mosquitto 2.0's decisions.

use super::{Access, AclFile, PasswordFile};
use crate::hooks::{AclAccess, AclHook, AuthDecision, AuthHook};
use crate::{Config, Error};

/// The hooks a config's files call for (`None` where it names no file).
pub(crate) struct FileHooks {
    pub(crate) auth: Option<AuthHook>,
    pub(crate) acl: Option<AclHook>,
}

/// Loads the files named by `config` (errors name the file and line).
pub(crate) fn load(config: &Config) -> Result<FileHooks, Error> {
    let passwords = match &config.password_file {
        Some(path) => Some(PasswordFile::load(path)?),
        None => None,
    };
    // Anonymous clients are allowed unless a password file is given, or
    // the config says otherwise.
    let allow_anonymous = config.allow_anonymous.unwrap_or(passwords.is_none());
    let auth: Option<AuthHook> = if passwords.is_some() || !allow_anonymous {
        Some(Box::new(move |info| {
            // mosquitto answers 0x05 for every refusal, so do we: a client
            // gets the same answer from both brokers.
            let accepted = match (info.username, &passwords) {
                (None, _) => allow_anonymous,
                (Some(username), Some(passwords)) => {
                    passwords.check(username, info.password.unwrap_or(b""))
                }
                // No file to check a user name against: a user name proves
                // nothing, so the client counts as anonymous (mosquitto
                // 2.0 refuses every client here when anonymous clients
                // are not allowed).
                (Some(_), None) => allow_anonymous,
            };
            if info.authentication_method.is_some() {
                // The files know user names and passwords, no other method.
                AuthDecision::Refuse(crate::codec::ReasonCode::BAD_AUTHENTICATION_METHOD)
            } else if accepted {
                AuthDecision::Accept
            } else {
                AuthDecision::NotAuthorized
            }
        }))
    } else {
        None
    };
    let acl: Option<AclHook> = match &config.acl_file {
        Some(path) => {
            let rules = AclFile::load(path)?;
            Some(Box::new(move |client, access, topic| {
                let access = match access {
                    AclAccess::Publish => Access::Write,
                    AclAccess::Subscribe => Access::Subscribe,
                    AclAccess::Receive => Access::Read,
                };
                rules.check(client.client_id, client.username, topic, access)
            }))
        }
        None => None,
    };
    Ok(FileHooks { auth, acl })
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
