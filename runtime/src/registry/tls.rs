//! TLS for registries: rustls on ring. A registry is verified against the
//! system's CA store (Debian's `ca-certificates`, through
//! rustls-native-certs); an insecure one (loopback, or named by
//! `--insecure-registry`) is spoken to over TLS without checking its
//! certificate, as Docker does, before falling back to plain HTTP.

use super::http::Url;
use super::RegistryError;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::sync::{Arc, OnceLock};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// ring, not aws-lc: aws-lc needs cmake and nasm to build. ring has no
/// post-quantum key exchange (hence rustls's deprecation note); registries
/// speak classic TLS 1.2/1.3 with it.
#[allow(deprecated)]
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The system's CA certificates (loaded once).
fn roots() -> Result<Arc<RootCertStore>, String> {
    static ROOTS: OnceLock<Result<Arc<RootCertStore>, String>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            let mut store = RootCertStore::empty();
            let (added, _) = store.add_parsable_certificates(found.certs);
            if added == 0 {
                let why = found
                    .errors
                    .first()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default();
                return Err(format!(
                    "the system has no CA certificates to verify registries with{why}; install them (apt-get install ca-certificates)"
                ));
            }
            Ok(Arc::new(store))
        })
        .clone()
}

fn config(skip_verify: bool) -> Result<Arc<ClientConfig>, String> {
    static VERIFIED: OnceLock<Result<Arc<ClientConfig>, String>> = OnceLock::new();
    static UNVERIFIED: OnceLock<Result<Arc<ClientConfig>, String>> = OnceLock::new();
    let make = |skip: bool| -> Result<Arc<ClientConfig>, String> {
        let builder = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS setup: {e}"))?;
        let mut cfg = if skip {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider())))
                .with_no_client_auth()
        } else {
            builder
                .with_root_certificates(roots()?)
                .with_no_client_auth()
        };
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(cfg))
    };
    let cell = if skip_verify { &UNVERIFIED } else { &VERIFIED };
    cell.get_or_init(|| make(skip_verify)).clone()
}

/// TLS over `stream` to `url`'s host.
pub async fn connect(stream: TcpStream, url: &Url) -> Result<TlsStream<TcpStream>, RegistryError> {
    let unreachable = |reason: String| RegistryError::Unreachable {
        registry: url.authority.clone(),
        reason,
    };
    let cfg = config(url.skip_verify).map_err(unreachable)?;
    let host = super::name::host_of(&url.authority).to_string();
    let name = ServerName::try_from(host.clone())
        .map_err(|e| unreachable(format!("{host:?} is not a name TLS can check: {e}")))?;
    tokio_rustls::TlsConnector::from(cfg)
        .connect(name, stream)
        .await
        .map_err(|e| unreachable(format!("TLS with {}: {e}", url.authority)))
}

/// Accepts any certificate: what Docker does for an insecure registry that
/// speaks TLS. The handshake's signatures are not checked either: webpki
/// refuses to parse the usual self-signed certificate (a CA used as its own
/// end entity), and a signature by an unverified key proves nothing.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_ca_store_loads() {
        // Debian's ca-certificates (.ci/run installs it): verified HTTPS
        // needs a non-empty root store.
        let roots = roots().expect("system CA certificates");
        assert!(roots.len() > 10, "only {} CA certificates", roots.len());
        assert!(config(false).is_ok() && config(true).is_ok());
    }
}
