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
                (Some(_), None) => true,
            };
            if accepted {
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
