//! A TLS front for the plain-WebSocket server: accepts `wss://` on a loopback port with a test
//! certificate, and relays the decrypted bytes to a backend (the client's fault proxy). It can
//! switch to a certificate nobody trusts — what a hotel portal or a TLS-intercepting middlebox
//! presents — and counts the handshakes that failed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

pub struct TlsFront {
    addr: SocketAddr,
    trusted_cert: CertificateDer<'static>,
    untrusted: Arc<AtomicBool>,
    failed_handshakes: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// An acceptor presenting `chain` (leaf first) with the leaf's key.
fn acceptor(chain: Vec<CertificateDer<'static>>, key: &rcgen::KeyPair) -> TlsAcceptor {
    let private = PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .expect("server config");
    TlsAcceptor::from(Arc::new(config))
}

/// A self-signed certificate for the loopback names, and an acceptor presenting it.
fn self_signed() -> (TlsAcceptor, CertificateDer<'static>) {
    let key = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
        .expect("test certificate");
    let cert = key.cert.der().clone();
    (acceptor(vec![cert.clone()], &key.signing_key), cert)
}

/// A certificate authority made for a test: what an enterprise, an MDM profile or an app's own
/// PKI installs. It signs leaf certificates for the loopback names.
pub struct TestCa {
    issuer: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
}

impl TestCa {
    pub fn new(name: &str) -> TestCa {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let key = rcgen::KeyPair::generate().expect("CA key");
        TestCa {
            issuer: rcgen::CertifiedIssuer::self_signed(params, key).expect("CA certificate"),
        }
    }

    /// The CA's certificate as PEM (what goes into a trust store or `tls_ca_pem`).
    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A leaf for 127.0.0.1 / localhost signed by this CA, and an acceptor presenting it with
    /// the CA's certificate (the chain a real server sends).
    fn leaf_acceptor(&self) -> TlsAcceptor {
        let params = rcgen::CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])
            .expect("leaf params");
        let key = rcgen::KeyPair::generate().expect("leaf key");
        let leaf = params
            .signed_by(&key, &self.issuer)
            .expect("leaf certificate");
        acceptor(vec![leaf.der().clone(), self.issuer.der().clone()], &key)
    }
}

impl TlsFront {
    /// Listens on a free loopback port (synchronous, so a client's setup closure can call it;
    /// needs a tokio runtime).
    pub fn start(backend: SocketAddr) -> TlsFront {
        let (trusted, trusted_cert) = self_signed();
        Self::start_with(backend, trusted, trusted_cert)
    }

    /// Presents a certificate signed by `ca` (`client_tls` is then of no use: the client is
    /// meant to trust `ca` through its trust store or a pinned PEM).
    pub fn start_signed_by(backend: SocketAddr, ca: &TestCa) -> TlsFront {
        let (_, unused_cert) = self_signed();
        Self::start_with(backend, ca.leaf_acceptor(), unused_cert)
    }

    fn start_with(
        backend: SocketAddr,
        trusted: TlsAcceptor,
        trusted_cert: CertificateDer<'static>,
    ) -> TlsFront {
        let (untrusted_acceptor, _) = self_signed();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("non-blocking");
        let listener = TcpListener::from_std(listener).expect("tokio listener");
        let addr = listener.local_addr().expect("local addr");
        let untrusted = Arc::new(AtomicBool::new(false));
        let failed_handshakes = Arc::new(AtomicUsize::new(0));
        let (flag, failures) = (untrusted.clone(), failed_handshakes.clone());
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = if flag.load(Ordering::SeqCst) {
                    untrusted_acceptor.clone()
                } else {
                    trusted.clone()
                };
                let failures = failures.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        failures.fetch_add(1, Ordering::SeqCst);
                        return;
                    };
                    let Ok(mut upstream) = TcpStream::connect(backend).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
                });
            }
        });
        TlsFront {
            addr,
            trusted_cert,
            untrusted,
            failed_handshakes,
            task,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `wss://127.0.0.1:port/v1/ws`.
    pub fn url(&self) -> String {
        format!("wss://{}{}", self.addr, roomlink::protocol::WS_PATH)
    }

    /// A client TLS config that trusts the front's normal certificate (and nothing else).
    pub fn client_tls(&self) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.trusted_cert.clone()).expect("add root");
        Arc::new(
            rustls::ClientConfig::builder_with_provider(provider())
                .with_safe_default_protocol_versions()
                .expect("protocol versions")
                .with_root_certificates(roots)
                .with_no_client_auth(),
        )
    }

    /// From now on, new connections get a certificate the client does not trust (`true`), or
    /// the normal one again (`false`). Open connections are not affected.
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
