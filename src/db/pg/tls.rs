//! TLS for the request path's connections, read from the URL the way libpq
//! reads it:
//!
//! | `sslmode` | TLS | certificate checked |
//! |---|---|---|
//! | `disable` | never | — |
//! | `allow`, `prefer` (default) | when the server offers it | only if `sslrootcert` is given (as `verify-ca`) |
//! | `require` | always | only if `sslrootcert` is given (as `verify-ca`) |
//! | `verify-ca` | always | chains to a trusted root |
//! | `verify-full` | always | chains to a trusted root and names the host |
//!
//! The trusted roots are those in `sslrootcert` (a PEM file), or else the
//! Mozilla set (`webpki-roots`). `sslcert`/`sslkey` (client certificates)
//! are refused rather than ignored.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

#[derive(Debug, thiserror::Error)]
pub(crate) enum TlsError {
    #[error("the database URL is not valid: {0}")]
    Url(String),
    #[error("sslmode `{0}` is not one of disable, allow, prefer, require, verify-ca, verify-full")]
    Mode(String),
    #[error("cannot read sslrootcert `{path}`: {reason}")]
    RootCert { path: String, reason: String },
    #[error("`{0}` (client certificates) is not supported in the database URL")]
    Unsupported(String),
    #[error("TLS setup failed: {0}")]
    Setup(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// Encrypt, trust any certificate (libpq's `require` without a root).
    None,
    /// The chain, not the name.
    Chain,
    /// The chain and the name.
    Full,
}

#[derive(Debug, PartialEq, Eq)]
struct Tls {
    mode: SslMode,
    check: Check,
    root_cert: Option<String>,
}

/// The driver's configuration and TLS connector for `url`.
pub(super) fn configure(url: &str) -> Result<(tokio_postgres::Config, MakeRustlsConnect), TlsError> {
    let (rest, tls) = split(url)?;
    let mut config: tokio_postgres::Config = rest
        .parse()
        .map_err(|e: tokio_postgres::Error| TlsError::Url(e.to_string()))?;
    config.ssl_mode(tls.mode);
    let connector = MakeRustlsConnect::new(client_config(&tls)?);
    Ok((config, connector))
}

/// Takes the TLS parameters out of `url`'s query (the driver knows only
/// some of them).
fn split(url: &str) -> Result<(String, Tls), TlsError> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut kept = Vec::new();
    let mut mode = "prefer".to_owned();
    let mut root_cert = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "sslmode" => mode = decode(value)?,
            "sslrootcert" => root_cert = Some(decode(value)?),
            "sslcert" | "sslkey" | "sslpassword" => return Err(TlsError::Unsupported(key.to_owned())),
            _ => kept.push(pair),
        }
    }
    let (mode, check) = match mode.as_str() {
        "disable" => (SslMode::Disable, Check::None),
        "allow" | "prefer" => (SslMode::Prefer, Check::None),
        "require" => (SslMode::Require, Check::None),
        "verify-ca" => (SslMode::Require, Check::Chain),
        "verify-full" => (SslMode::Require, Check::Full),
        _ => return Err(TlsError::Mode(mode)),
    };
    let check = if check == Check::None && root_cert.is_some() {
        Check::Chain
    } else {
        check
    };
    let rest = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((rest, Tls { mode, check, root_cert }))
}

/// Percent-decoding of one query value.
fn decode(value: &str) -> Result<String, TlsError> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = value
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| TlsError::Url(format!("bad percent-encoding in `{value}`")))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| TlsError::Url(format!("`{value}` is not UTF-8")))
}

fn client_config(tls: &Tls) -> Result<rustls::ClientConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Setup(e.to_string()))?;
    let config = match tls.check {
        Check::None => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider.signature_verification_algorithms)))
            .with_no_client_auth(),
        check => {
            let roots = roots(tls.root_cert.as_deref())?;
            let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| TlsError::Setup(e.to_string()))?;
            if check == Check::Full {
                builder.with_webpki_verifier(webpki).with_no_client_auth()
            } else {
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(ChainOnly(webpki)))
                    .with_no_client_auth()
            }
        }
    };
    Ok(config)
}

fn roots(path: Option<&str>) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    let Some(path) = path else {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        return Ok(roots);
    };
    let fail = |reason: String| TlsError::RootCert {
        path: path.to_owned(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| fail(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(e.to_string()))?;
    if certs.is_empty() {
        return Err(fail("it holds no certificate".to_owned()));
    }
    for cert in certs {
        roots.add(cert).map_err(|e| fail(e.to_string()))?;
    }
    Ok(roots)
}

/// Any certificate, the handshake's signatures still checked: encryption
/// without authentication, as libpq's `require`.
#[derive(Debug)]
struct AnyCertificate(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// The chain to a trusted root, whatever name the certificate holds
/// (libpq's `verify-ca`).
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_parameters_are_taken_out_of_the_url() {
        let (rest, tls) = split("postgres://u@h:5/db?sslmode=verify-full&application_name=x&sslrootcert=%2Fa%20b.pem")
            .expect("parses");
        assert_eq!(rest, "postgres://u@h:5/db?application_name=x");
        assert_eq!(
            tls,
            Tls {
                mode: SslMode::Require,
                check: Check::Full,
                root_cert: Some("/a b.pem".to_owned())
            }
        );
        let (rest, tls) = split("postgres://u@h/db").expect("parses");
        assert_eq!(rest, "postgres://u@h/db");
        assert_eq!((tls.mode, tls.check), (SslMode::Prefer, Check::None));
        let (_, tls) = split("postgres://u@h/db?sslmode=require&sslrootcert=/r.pem").expect("parses");
        assert_eq!((tls.mode, tls.check), (SslMode::Require, Check::Chain));
        let (_, tls) = split("postgres://u@h/db?sslmode=disable").expect("parses");
        assert_eq!(tls.mode, SslMode::Disable);
        assert!(matches!(
            split("postgres://h/db?sslmode=always"),
            Err(TlsError::Mode(_))
        ));
        assert!(matches!(
            split("postgres://h/db?sslcert=/c.pem"),
            Err(TlsError::Unsupported(_))
        ));
        assert!(matches!(
            configure("postgres://h/db?sslmode=verify-ca&sslrootcert=/nonexistent.pem"),
            Err(TlsError::RootCert { .. })
        ));
    }
}
