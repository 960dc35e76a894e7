//! What the core knows of listeners: each connection's listener, that
//! listener's own settings (`Config::custom_listeners`), and the client
//! certificate a TLS listener verified, which may name the user.

use std::sync::Arc;

use super::{ConnId, Core};
use crate::hooks::ClientCertificate;
use crate::Listener;

impl Core {
    /// The settings of `listener` when it is a custom listener (`None` for
    /// the plain `Config::listeners`, which use the broker-wide ones).
    pub(crate) fn listener_settings(&self, listener: u16) -> Option<&Listener> {
        usize::from(listener)
            .checked_sub(self.config.listeners.len())
            .and_then(|index| self.config.custom_listeners.get(index))
    }

    /// Who is at the other end of connection `id`, for the driver's logs.
    pub fn conn_peer(&self, id: ConnId) -> Option<&crate::Peer> {
        self.conns.get(id).map(|conn| &conn.peer)
    }

    /// The TLS handshake of connection `id` completed with this verified
    /// client certificate (before any of its MQTT bytes are read).
    pub fn handle_client_certificate(&mut self, id: ConnId, certificate: ClientCertificate) {
        if let Some(conn) = self.conns.live_mut(id) {
            conn.certificate = Some(Arc::new(certificate));
        }
    }

    /// The user name a certificate gives a client of `listener`
    /// (`use_identity_as_username` / `use_subject_as_username`):
    /// `Some(None)` when the listener takes the name from the certificate
    /// and the client has none to give, `None` when the listener does not.
    pub(super) fn certificate_username(
        &self,
        listener: u16,
        certificate: Option<&ClientCertificate>,
    ) -> Option<Option<String>> {
        let tls = self.listener_settings(listener)?.tls.as_ref()?;
        if tls.use_identity_as_username {
            Some(certificate.and_then(|c| c.common_name.clone()))
        } else if tls.use_subject_as_username {
            Some(certificate.map(|c| c.subject.clone()))
        } else {
            None
        }
    }
}
