//! [`Pki`]: test certificates made by the test with rcgen (never
//! committed): a CA, a server certificate for `localhost` / `127.0.0.1`,
//! and client certificates signed by the CA, as PEM files in a
//! [`TempDir`].

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};

use super::TempDir;

/// A CA and the files of its server certificate, in a temporary directory.
pub struct Pki {
    pub dir: TempDir,
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Pki {
    /// A CA named `ca_name` and a server certificate it signed.
    pub fn new(ca_name: &str) -> Pki {
        let dir = TempDir::new("pki");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, ca_name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().expect("a key"))
            .expect("the CA certificate");
        let ca = dir.file("ca.pem", &issuer.pem());
        let mut pki = Pki {
            ca,
            server_cert: PathBuf::new(),
            server_key: PathBuf::new(),
            dir,
            issuer,
        };
        let (cert, key) = pki.issue("server", &["localhost", "127.0.0.1"], "localhost");
        pki.server_cert = cert;
        pki.server_key = key;
        pki
    }

    /// A client certificate with Common Name `cn` (and `O=mqlite tests`):
    /// its certificate and key files.
    pub fn client(&self, cn: &str) -> (PathBuf, PathBuf) {
        self.issue(&format!("client-{cn}"), &[], cn)
    }

    fn issue(&self, name: &str, names: &[&str], cn: &str) -> (PathBuf, PathBuf) {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).expect("params");
        // Most general first, as real certificates have it: the subject
        // reads `CN=...,O=mqlite tests` (RFC 4514 names the last first).
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::OrganizationName, "mqlite tests");
        params.distinguished_name.push(DnType::CommonName, cn);
        let key = KeyPair::generate().expect("a key");
        let cert = params.signed_by(&key, &self.issuer).expect("a certificate");
        (
            self.dir.file(&format!("{name}.pem"), &cert.pem()),
            self.dir.file(&format!("{name}.key"), &key.serialize_pem()),
        )
    }
}

/// A TLS client stream to `addr` (as `localhost`) trusting `ca`, offering
/// only `versions`, handshake completed; the handshake's error otherwise.
pub fn tls_connect(
    addr: SocketAddr,
    ca: &Path,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> std::io::Result<StreamOwned<ClientConnection, TcpStream>> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).expect("the CA file") {
        roots
            .add(cert.expect("a CA certificate"))
            .expect("a usable CA");
    }
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from("localhost").expect("a name");
    let conn = ClientConnection::new(Arc::new(config), name).map_err(std::io::Error::other)?;
    let tcp = TcpStream::connect(addr)?;
    tcp.set_read_timeout(Some(super::TIMEOUT))?;
    let mut stream = StreamOwned::new(conn, tcp);
    while stream.conn.is_handshaking() {
        stream.conn.complete_io(&mut stream.sock)?;
    }
    Ok(stream)
}
