//! `wss://` for scenarios with `"tls": true`: a TLS front before each node, presenting a leaf
//! certificate of a CA made for the run, which every client pins (`tls_ca_pem` in its `create`
//! config). A `certificate` step switches the fronts to a certificate of no CA the clients trust,
//! which is what a hotel portal or a TLS-intercepting network presents, and back.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

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

const NAMES: [&str; 2] = ["127.0.0.1", "localhost"];

/// The run's CA: the clients pin it; the fronts' normal certificate is its leaf.
pub struct TestCa {
    issuer: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
}

impl TestCa {
    pub fn new() -> Result<TestCa, String> {
        let fail = |e: rcgen::Error| format!("test CA: {e}");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(fail)?;
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "roomlink conformance CA");
        let key = rcgen::KeyPair::generate().map_err(fail)?;
        Ok(TestCa {
            issuer: rcgen::CertifiedIssuer::self_signed(params, key).map_err(fail)?,
        })
    }

    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    fn leaf(&self) -> Result<TlsAcceptor, String> {
        let fail = |e: rcgen::Error| format!("leaf certificate: {e}");
        let params =
            rcgen::CertificateParams::new(NAMES.map(String::from).to_vec()).map_err(fail)?;
        let key = rcgen::KeyPair::generate().map_err(fail)?;
        let leaf = params.signed_by(&key, &self.issuer).map_err(fail)?;
        acceptor(vec![leaf.der().clone(), self.issuer.der().clone()], &key)
    }
}

/// A self-signed certificate for the loopback names: trusted by nobody.
fn stranger() -> Result<TlsAcceptor, String> {
    let key = rcgen::generate_simple_self_signed(NAMES.map(String::from).to_vec())
        .map_err(|e| format!("untrusted certificate: {e}"))?;
    acceptor(vec![key.cert.der().clone()], &key.signing_key)
}

/// Accepts TLS on a free loopback port and relays the plain bytes to `backend` (a node).
pub struct TlsFront {
    addr: SocketAddr,
    untrusted: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl TlsFront {
    pub async fn start(backend: SocketAddr, ca: &TestCa) -> Result<TlsFront, String> {
        let (trusted, stranger) = (ca.leaf()?, stranger()?);
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("TLS front: {e}"))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("TLS front: {e}"))?;
        let untrusted = Arc::new(AtomicBool::new(false));
        let flag = untrusted.clone();
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = if flag.load(Ordering::SeqCst) {
                    stranger.clone()
                } else {
                    trusted.clone()
                };
                tokio::spawn(async move {
                    // A client that refuses the certificate ends the handshake: nothing to relay.
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    // A node that is down: the client sees the link close, as without TLS.
                    let Ok(mut upstream) = TcpStream::connect(backend).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
                });
            }
        });
        Ok(TlsFront {
            addr,
            untrusted,
            task,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// New connections get the untrusted certificate (`false`) or the CA's leaf again (`true`).
    pub fn present_trusted(&self, trusted: bool) {
        self.untrusted.store(!trusted, Ordering::SeqCst);
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}
