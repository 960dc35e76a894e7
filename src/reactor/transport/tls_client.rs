//! A bridge's [`BridgeTls`] made into a rustls client configuration: the
//! CAs the upstream's certificate is verified against, the bridge's own
//! certificate if it has one, and `bridge_insecure` (the host name not
//! checked). Read each time the bridge connects; every error names the
//! file at fault.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use super::tls_config::{add_root_dir, add_roots, certificates, private_key};
use crate::BridgeTls;

/// Builds the rustls configuration for a bridge's TLS settings.
pub(crate) fn client_config(tls: &BridgeTls) -> Result<Arc<ClientConfig>, String> {
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    if let Some(file) = &tls.ca_file {
        add_roots(&mut roots, file, "bridge_cafile")?;
    }
    if let Some(dir) = &tls.ca_path {
        add_root_dir(&mut roots, dir, "bridge_capath")?;
    }
    if roots.is_empty() {
        return Err("bridge_cafile / bridge_capath: no CA certificate found".to_string());
    }
    let verifier =
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
            .build()
            .map_err(|error| format!("bridge certificate verifier: {error}"))?;
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| format!("TLS versions: {error}"))?;
    let builder = if tls.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyHostName(verifier)))
    } else {
        builder.with_webpki_verifier(verifier)
    };
    let config = match (&tls.cert_file, &tls.key_file) {
        (Some(cert), Some(key)) => {
            let chain = certificates(cert, "bridge_certfile")?;
            let key = private_key(key)?;
            builder.with_client_auth_cert(chain, key).map_err(|error| {
                format!(
                    "bridge_certfile {} and bridge_keyfile {}: {error}",
                    cert.display(),
                    key_path(tls)
                )
            })?
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

fn key_path(tls: &BridgeTls) -> String {
    tls.key_file
        .as_ref()
        .map_or_else(String::new, |path| path.display().to_string())
}

/// The name rustls checks the upstream's certificate against: the host of
/// the address (an IP address is checked as one).
pub(crate) fn server_name(host: &str) -> Result<ServerName<'static>, String> {
    ServerName::try_from(host.to_string()).map_err(|error| format!("{host}: {error}"))
}

/// `bridge_insecure`: the certificate chain is verified as usual, but a
/// certificate for another host name is accepted.
#[derive(Debug)]
struct AnyHostName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyHostName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}
