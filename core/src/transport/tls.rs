//! Whom `wss://` trusts: the platform's verifier, or CAs the app pins.
//!
//! By default the server's certificate is checked by the operating system's own verifier
//! (`rustls-platform-verifier`): Apple's Security framework, Android's `X509TrustManager`
//! (through JNI, see `ffi/src/android.rs`), Windows' CryptoAPI, and on other Unixes the system
//! store (`/etc/ssl/certs`, or the files `SSL_CERT_FILE` / `SSL_CERT_DIR` name). So CAs an
//! enterprise or an MDM profile installs are trusted, and revocation follows the OS, which a
//! bundled root list can do neither of.
//!
//! An app that runs its own CA instead pins it ([`EngineConfig::tls_ca_pem`](crate::EngineConfig),
//! or [`WebSocketTransport::with_ca_pem`](super::WebSocketTransport::with_ca_pem)): then only
//! those CAs are trusted, the platform's store is not consulted.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// rustls' `ring` provider: the one the whole workspace builds (no aws-lc, no process default).
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The certificates in a PEM bundle (`-----BEGIN CERTIFICATE-----` blocks; anything else in
/// the text is ignored). Refused when it holds none or one does not parse.
pub fn parse_ca_pem(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, &'static str> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| "the CA PEM does not parse")?;
    if certs.is_empty() {
        return Err("the CA PEM holds no certificate");
    }
    Ok(certs)
}

/// A client config that trusts exactly the CAs in `pem`.
pub(crate) fn pinned_config(pem: &[u8]) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    for cert in parse_ca_pem(pem)? {
        roots
            .add(cert)
            .map_err(|e| format!("a pinned CA is not usable as a trust anchor: {e}"))?;
    }
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("rustls setup: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A client config that asks the platform. Fails where the platform has no store at all (a
/// minimal Linux container without `ca-certificates`).
fn platform_config() -> Result<Arc<ClientConfig>, String> {
    let provider = provider();
    let verifier = rustls_platform_verifier::Verifier::new(provider.clone())
        .map_err(|e| format!("the platform's certificate verifier: {e}"))?;
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("rustls setup: {e}"))?
        .dangerous() // only in name: the verifier is the platform's, not a bypass
        .with_custom_certificate_verifier(Arc::new(Contained(verifier)))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Where a transport's TLS configuration comes from.
#[derive(Clone)]
pub(crate) enum Trust {
    /// Given whole (pinned CAs, or the app's own rustls config).
    Config(Arc<ClientConfig>),
    /// The platform's verifier, built on the first `wss://` connection and then kept: it reads
    /// the system store from disk, which an engine that only ever dials `ws://` (or never dials)
    /// should not pay for. A failure is not kept, so a store installed later is picked up.
    Platform(Arc<Mutex<Option<Arc<ClientConfig>>>>),
}

impl Trust {
    pub(crate) fn platform() -> Trust {
        Trust::Platform(Arc::new(Mutex::new(None)))
    }

    /// The configuration for one connection.
    pub(crate) fn config(&self) -> Result<Arc<ClientConfig>, String> {
        match self {
            Trust::Config(config) => Ok(config.clone()),
            Trust::Platform(slot) => {
                // Poisoning would need a panic while building, which `platform_config` does not
                // raise; taking the value anyway keeps a poisoned slot usable.
                let mut slot = slot.lock().unwrap_or_else(|poison| poison.into_inner());
                if let Some(config) = slot.as_ref() {
                    return Ok(config.clone());
                }
                let config = platform_config()?;
                *slot = Some(config.clone());
                Ok(config)
            }
        }
    }
}

/// The platform verifier with its panics turned into handshake errors. On Android it panics
/// when the app never handed it a `Context` (`RoomlinkAndroid.init`); on the engine's runtime
/// thread that would silently kill the connection task. As an error it is a prompt
/// `LoginFailed` 1002030 whose log line says what is missing.
#[derive(Debug)]
struct Contained(rustls_platform_verifier::Verifier);

fn contain<T>(f: impl FnOnce() -> Result<T, rustls::Error>) -> Result<T, rustls::Error> {
    std::panic::catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(rustls::Error::General(
            "the platform's certificate verifier is not initialised (on Android: call \
             RoomlinkAndroid.init(context) once at startup)"
                .into(),
        ))
    })
}

impl ServerCertVerifier for Contained {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        contain(|| {
            self.0
                .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        })
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        contain(|| self.0.verify_tls12_signature(message, cert, dss))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        contain(|| self.0.verify_tls13_signature(message, cert, dss))
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ca_pem() -> String {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let key = rcgen::KeyPair::generate().expect("key");
        params.self_signed(&key).expect("CA").pem()
    }

    #[test]
    fn an_engine_refuses_a_ca_pem_without_a_certificate() {
        // `EngineConfig::validate` (sans-IO, no TLS) passes non-empty text; the engine, which owns
        // the TLS stack, is where the bundle is parsed and refused.
        let mut config = crate::EngineConfig::new("wss://127.0.0.1:1/v1/ws");
        config.tls_ca_pem = Some(crate::CaPem(b"just text".to_vec()));
        assert_eq!(config.validate(), Ok(()));
        assert!(matches!(
            crate::Engine::new(config, None),
            Err(crate::ErrorCode::INVALID_ARGUMENT)
        ));
    }

    #[test]
    fn a_pem_bundle_gives_its_certificates_and_junk_is_refused() {
        let two = format!("# comment lines are fine\n{}{}", ca_pem(), ca_pem());
        assert_eq!(parse_ca_pem(two.as_bytes()).map(|c| c.len()), Ok(2));
        assert!(pinned_config(two.as_bytes()).is_ok());
        assert_eq!(
            parse_ca_pem(b"not a pem").map(|c| c.len()),
            Err("the CA PEM holds no certificate")
        );
        let broken = "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
        assert_eq!(
            parse_ca_pem(broken.as_bytes()).map(|c| c.len()),
            Err("the CA PEM does not parse")
        );
    }

    #[test]
    fn a_verifier_panic_is_a_handshake_error() {
        let result: Result<(), rustls::Error> = contain(|| panic!("not initialised"));
        assert!(matches!(result, Err(rustls::Error::General(m)) if m.contains("RoomlinkAndroid")));
    }
}
