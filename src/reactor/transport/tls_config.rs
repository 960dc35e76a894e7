//! A listener's [`TlsSettings`] made into a rustls server configuration:
//! the certificate chain and key, the CAs that client certificates are
//! verified against, and the TLS versions. Read at start and at each
//! reload; every error names the file at fault.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};

use crate::{TlsSettings, TlsVersion};

/// Builds the rustls configuration for `settings`; the error says what is
/// wrong, naming the file.
pub(crate) fn server_config(settings: &TlsSettings) -> Result<Arc<ServerConfig>, String> {
    // ring rather than aws-lc-rs: it builds without cmake in seconds and
    // adds less to the library; what ring lacks (post-quantum key
    // exchange) MQTT clients do not offer yet.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: &[&'static rustls::SupportedProtocolVersion] = match settings.min_version {
        TlsVersion::Tls12 => &[&rustls::version::TLS13, &rustls::version::TLS12],
        TlsVersion::Tls13 => &[&rustls::version::TLS13],
    };
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(versions)
        .map_err(|error| format!("TLS versions: {error}"))?;
    let roots = client_roots(settings)?;
    let builder = match roots {
        Some(roots) => {
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = if settings.require_certificate {
                verifier
            } else {
                verifier.allow_unauthenticated()
            };
            let verifier = verifier
                .build()
                .map_err(|error| format!("client certificate verifier: {error}"))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let chain = certificates(&settings.cert_file, "certfile")?;
    let key = private_key(&settings.key_file)?;
    let config = builder.with_single_cert(chain, key).map_err(|error| {
        format!(
            "certfile {} and keyfile {}: {error}",
            settings.cert_file.display(),
            settings.key_file.display()
        )
    })?;
    Ok(Arc::new(config))
}

/// The CAs of `cafile` and `capath`, if either is set.
fn client_roots(settings: &TlsSettings) -> Result<Option<RootCertStore>, String> {
    if settings.ca_file.is_none() && settings.ca_path.is_none() {
        return Ok(None);
    }
    let mut roots = RootCertStore::empty();
    if let Some(file) = &settings.ca_file {
        add_roots(&mut roots, file, "cafile")?;
    }
    if let Some(dir) = &settings.ca_path {
        add_root_dir(&mut roots, dir, "capath")?;
    }
    if roots.is_empty() {
        return Err("cafile / capath: no CA certificate found".to_string());
    }
    Ok(Some(roots))
}

/// The CA certificates of every PEM file in `dir`.
pub(super) fn add_root_dir(
    roots: &mut RootCertStore,
    dir: &Path,
    option: &str,
) -> Result<(), String> {
    let entries =
        std::fs::read_dir(dir).map_err(|error| format!("{option} {}: {error}", dir.display()))?;
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    for file in files {
        // A hashed CA directory also holds files that are not PEM
        // certificates (CRLs, READMEs): those are skipped.
        if let Ok(certs) = certificates(&file, option) {
            for cert in certs {
                let _ = roots.add(cert);
            }
        }
    }
    Ok(())
}

pub(super) fn add_roots(
    roots: &mut RootCertStore,
    file: &Path,
    option: &str,
) -> Result<(), String> {
    for cert in certificates(file, option)? {
        roots
            .add(cert)
            .map_err(|error| format!("{option} {}: {error}", file.display()))?;
    }
    Ok(())
}

/// Every certificate in a PEM file; at least one.
pub(super) fn certificates(
    file: &Path,
    option: &str,
) -> Result<Vec<CertificateDer<'static>>, String> {
    let bytes =
        std::fs::read(file).map_err(|error| format!("{option} {}: {error}", file.display()))?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| format!("{option} {}: {error}", file.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{option} {}: no PEM certificate (-----BEGIN CERTIFICATE-----) in it",
            file.display()
        ));
    }
    Ok(certs)
}

/// The private key of a PEM file (PKCS#8, PKCS#1 or SEC1).
pub(super) fn private_key(file: &Path) -> Result<PrivateKeyDer<'static>, String> {
    let bytes =
        std::fs::read(file).map_err(|error| format!("keyfile {}: {error}", file.display()))?;
    if bytes.windows(9).any(|w| w == b"ENCRYPTED") {
        return Err(format!(
            "keyfile {}: the key is encrypted with a password, which is not supported; \
             decrypt it with `openssl pkey -in KEY -out KEY.plain`",
            file.display()
        ));
    }
    PrivateKeyDer::from_pem_slice(&bytes)
        .map_err(|error| format!("keyfile {}: no private key in it ({error})", file.display()))
}
