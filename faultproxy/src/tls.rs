//! A TLS front for tests (feature `tls`): accepts TLS on a free loopback port with a test
//! certificate and relays the decrypted bytes to a backend (a server, or a fault proxy before
//! one). It can switch to a certificate nobody trusts, what a hotel portal or a TLS-intercepting
//! middlebox presents, and counts the handshakes that failed. [`TestCa`] makes a CA for a test
//! (an enterprise's, an MDM profile's, an app's own), whose leaf the front can present.
//!
//! Used by the end-to-end tests and the conformance orchestrator alike.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The names every test certificate is for.
const NAMES: [&str; 2] = ["127.0.0.1", "localhost"];

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// An acceptor presenting `chain` (leaf first) with the leaf's key.
fn acceptor(
    chain: Vec<CertificateDer<'static>>,
    key: &rcgen::KeyPair,
) -> Result<TlsAcceptor, String> {
    let private = PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS front: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| format!("TLS front: {e}"))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// A self-signed certificate for the loopback names, and an acceptor presenting it.
fn self_signed() -> Result<(TlsAcceptor, CertificateDer<'static>), String> {
    let key = rcgen::generate_simple_self_signed(NAMES.map(String::from).to_vec())
        .map_err(|e| format!("test certificate: {e}"))?;
    let cert = key.cert.der().clone();
    Ok((acceptor(vec![cert.clone()], &key.signing_key)?, cert))
}

/// A certificate authority made for a test. It signs leaf certificates for the loopback names.
pub struct TestCa {
    issuer: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
}

impl TestCa {
    pub fn new(name: &str) -> Result<TestCa, String> {
        let fail = |e: rcgen::Error| format!("test CA: {e}");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(fail)?;
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let key = rcgen::KeyPair::generate().map_err(fail)?;
        Ok(TestCa {
            issuer: rcgen::CertifiedIssuer::self_signed(params, key).map_err(fail)?,
        })
    }

    /// The CA's certificate as PEM (what goes into a trust store or a client's pinned CAs).
    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A leaf for the loopback names signed by this CA, as PEM: the chain (leaf, then this CA)
    /// and the leaf's private key, for a server that reads them from files (a TLS Redis).
    pub fn leaf_pem(&self) -> Result<(String, String), String> {
        let fail = |e: rcgen::Error| format!("leaf certificate: {e}");
        let params =
            rcgen::CertificateParams::new(NAMES.map(String::from).to_vec()).map_err(fail)?;
        let key = rcgen::KeyPair::generate().map_err(fail)?;
        let leaf = params.signed_by(&key, &self.issuer).map_err(fail)?;
        Ok((leaf.pem() + &self.issuer.pem(), key.serialize_pem()))
    }

    /// A leaf for the loopback names signed by this CA, presented with the CA's certificate (the
    /// chain a real server sends).
    fn leaf_acceptor(&self) -> Result<TlsAcceptor, String> {
        let fail = |e: rcgen::Error| format!("leaf certificate: {e}");
        let params =
            rcgen::CertificateParams::new(NAMES.map(String::from).to_vec()).map_err(fail)?;
        let key = rcgen::KeyPair::generate().map_err(fail)?;
        let leaf = params.signed_by(&key, &self.issuer).map_err(fail)?;
        acceptor(vec![leaf.der().clone(), self.issuer.der().clone()], &key)
    }
}

pub struct TlsFront {
    addr: SocketAddr,
    /// What a client must trust for the front's normal certificate.
    root: CertificateDer<'static>,
    untrusted: Arc<AtomicBool>,
    failed_handshakes: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl TlsFront {
    /// Presents a self-signed certificate ([`TlsFront::client_tls`] trusts it). Synchronous, so
    /// a client's setup closure can call it; needs a tokio runtime.
    pub fn start(backend: SocketAddr) -> Result<TlsFront, String> {
        let (trusted, root) = self_signed()?;
        Self::start_with(backend, trusted, root)
    }

    /// Presents a leaf certificate `ca` signed ([`TlsFront::client_tls`] trusts `ca`).
    pub fn start_signed_by(backend: SocketAddr, ca: &TestCa) -> Result<TlsFront, String> {
        Self::start_with(backend, ca.leaf_acceptor()?, ca.issuer.der().clone())
    }

    fn start_with(
        backend: SocketAddr,
        trusted: TlsAcceptor,
        root: CertificateDer<'static>,
    ) -> Result<TlsFront, String> {
        let (stranger, _) = self_signed()?;
        let fail = |e: std::io::Error| format!("TLS front: {e}");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(fail)?;
        listener.set_nonblocking(true).map_err(fail)?;
        let listener = TcpListener::from_std(listener).map_err(fail)?;
        let addr = listener.local_addr().map_err(fail)?;
        let untrusted = Arc::new(AtomicBool::new(false));
        let failed_handshakes = Arc::new(AtomicUsize::new(0));
        let (flag, failures) = (untrusted.clone(), failed_handshakes.clone());
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = if flag.load(Ordering::SeqCst) {
                    stranger.clone()
                } else {
                    trusted.clone()
                };
                let failures = failures.clone();
                tokio::spawn(async move {
                    // A client that refuses the certificate ends the handshake: nothing to relay.
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        failures.fetch_add(1, Ordering::SeqCst);
                        return;
                    };
                    // A backend that is down: the client sees the link close, as without TLS.
                    let Ok(mut upstream) = TcpStream::connect(backend).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
                });
            }
        });
        Ok(TlsFront {
            addr,
            root,
            untrusted,
            failed_handshakes,
            task,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A client TLS config that trusts the front's normal certificate (and nothing else).
    pub fn client_tls(&self) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.root.clone()).expect("a test root parses");
        Arc::new(
            rustls::ClientConfig::builder_with_provider(provider())
                .with_safe_default_protocol_versions()
                .expect("protocol versions")
                .with_root_certificates(roots)
                .with_no_client_auth(),
        )
    }

    /// From now on, new connections get a certificate nobody trusts (`true`), or the normal one
    /// again (`false`). Open connections are not affected.
    pub fn present_untrusted(&self, untrusted: bool) {
        self.untrusted.store(untrusted, Ordering::SeqCst);
    }

    /// Handshakes that failed (the client refused the certificate) so far.
    pub fn failed_handshakes(&self) -> usize {
        self.failed_handshakes.load(Ordering::SeqCst)
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}
