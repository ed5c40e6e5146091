//! Certificate credentials: the PEM file's private key signs a client assertion (a JWT with
//! RS256 and the certificate's SHA-1 thumbprint as `x5t`), as Entra's client credentials flow
//! documents.

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{self, KeyPair as _};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::{ApiError, CollectError};

/// Lifetime of an assertion (Entra accepts up to ten minutes of clock skew around it).
const ASSERTION_SECS: i64 = 600;

/// A certificate and its RSA private key, read from one PEM file (or two: certificate and key).
pub struct CertificateKey {
    path: PathBuf,
    key: signature::RsaKeyPair,
    /// base64url SHA-1 of the certificate's DER: the `x5t` header Entra matches.
    x5t: String,
}

impl fmt::Debug for CertificateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateKey")
            .field("path", &self.path)
            .field("x5t", &self.x5t)
            .finish_non_exhaustive()
    }
}

impl CertificateKey {
    /// Read a PEM file holding the certificate and its unencrypted RSA private key (PKCS#8
    /// `PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY`), as Azure exports them.
    ///
    /// # Errors
    /// [`CollectError::Certificate`] saying what is missing or wrong (never quoting the key).
    pub fn load(path: &Path) -> Result<Self, CollectError> {
        let err = |reason: String| CollectError::Certificate {
            path: path.to_path_buf(),
            reason,
        };
        let pem = std::fs::read(path).map_err(|e| err(e.to_string()))?;
        Self::from_pem(&pem).map_err(err).map(|mut k| {
            k.path = path.to_path_buf();
            k
        })
    }

    /// The same from PEM text.
    pub(crate) fn from_pem(pem: &[u8]) -> Result<Self, String> {
        let cert = CertificateDer::from_pem_slice(pem).map_err(|_| {
            "no CERTIFICATE section (the file must hold the certificate and its private key)"
                .to_owned()
        })?;
        let key = match PrivateKeyDer::from_pem_slice(pem) {
            Ok(k) => k,
            Err(_) if contains(pem, b"ENCRYPTED PRIVATE KEY") => {
                return Err("the private key is encrypted: export it without a passphrase and keep the file readable by you only".to_owned());
            }
            Err(_) => return Err("no PRIVATE KEY or RSA PRIVATE KEY section".to_owned()),
        };
        let key = match key {
            PrivateKeyDer::Pkcs8(k) => signature::RsaKeyPair::from_pkcs8(k.secret_pkcs8_der()),
            PrivateKeyDer::Pkcs1(k) => signature::RsaKeyPair::from_der(k.secret_pkcs1_der()),
            _ => return Err("the private key is not an RSA key".to_owned()),
        }
        .map_err(|e| format!("the private key cannot be used: {e}"))?;
        // The certificate's SubjectPublicKeyInfo holds the RSAPublicKey DER as is.
        if !contains(cert.as_ref(), key.public_key().as_ref()) {
            return Err("the certificate does not belong to the private key".to_owned());
        }
        let sha1 = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, cert.as_ref());
        Ok(CertificateKey {
            path: PathBuf::new(),
            key,
            x5t: URL_SAFE_NO_PAD.encode(sha1.as_ref()),
        })
    }

    /// The certificate thumbprint as sent in `x5t`.
    #[must_use]
    pub fn x5t(&self) -> &str {
        &self.x5t
    }

    /// A signed client assertion for `client_id` at the token endpoint `audience`, made at
    /// `now` (Unix seconds) with the unique id `jti`.
    pub(crate) fn assertion(
        &self,
        client_id: &str,
        audience: &str,
        now: i64,
        jti: &str,
    ) -> Result<String, ApiError> {
        let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "x5t": self.x5t});
        let claims = serde_json::json!({
            "aud": audience,
            "iss": client_id,
            "sub": client_id,
            "jti": jti,
            "nbf": now,
            "iat": now,
            "exp": now + ASSERTION_SECS,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut sig = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut sig,
            )
            .map_err(|_| ApiError::Invalid("signing the client assertion failed".to_owned()))?;
        Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig)))
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEM: &str = include_str!("../../tests/data/test-cert.pem");
    const PUBLIC_PKCS1: &[u8] = include_bytes!("../../tests/data/test-cert.pub.der");

    #[test]
    fn assertion_verifies_with_the_certificates_key() {
        let k = CertificateKey::from_pem(PEM.as_bytes()).unwrap();
        let jwt = k
            .assertion(
                "app",
                "https://login.microsoftonline.com/t/oauth2/v2.0/token",
                1_700_000_000,
                "j1",
            )
            .unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header["alg"], "RS256");
        assert_eq!(header["x5t"], k.x5t());
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["iss"], "app");
        assert_eq!(claims["exp"], 1_700_000_600);
        let key =
            signature::UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, PUBLIC_PKCS1);
        key.verify(
            format!("{}.{}", parts[0], parts[1]).as_bytes(),
            &URL_SAFE_NO_PAD.decode(parts[2]).unwrap(),
        )
        .unwrap();
    }

    #[test]
    fn unusable_files_say_why() {
        let no_key: String = PEM
            .split("-----BEGIN PRIVATE KEY-----")
            .next()
            .unwrap()
            .to_owned();
        assert!(
            CertificateKey::from_pem(no_key.as_bytes())
                .unwrap_err()
                .contains("PRIVATE KEY")
        );
        assert!(
            CertificateKey::from_pem(b"garbage")
                .unwrap_err()
                .contains("CERTIFICATE")
        );
        let encrypted = format!(
            "{no_key}-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"
        );
        assert!(
            CertificateKey::from_pem(encrypted.as_bytes())
                .unwrap_err()
                .contains("encrypted")
        );
    }
}
