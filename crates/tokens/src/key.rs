//! Public keys from JWK members or certificates, and signature verification with `ring`.

use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde::{Deserialize, Serialize};

use crate::alg::{Alg, KeyFamily};
use crate::b64;

/// The public members of a JSON Web Key, as stored in a registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct JwkPublic {
    /// `RSA`, `EC` or `OKP`.
    pub kty: String,
    /// RSA modulus (base64url).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA public exponent (base64url).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    /// Curve: `P-256`, `P-384`, `Ed25519`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// EC x coordinate or Ed25519 public key (base64url).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// EC y coordinate (base64url).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
}

/// A parsed public key, ready to verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// RSA: modulus and exponent, big-endian without leading zeros.
    Rsa {
        /// Modulus.
        n: Vec<u8>,
        /// Public exponent.
        e: Vec<u8>,
    },
    /// ECDSA: the uncompressed point `04 || x || y`.
    Ec {
        /// P-256 or P-384.
        family: KeyFamily,
        /// Uncompressed point.
        point: Vec<u8>,
    },
    /// Ed25519: the 32-byte public key.
    Ed25519 {
        /// Public key bytes.
        x: Vec<u8>,
    },
}

/// Why a signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigFailure {
    /// The algorithm needs another type of key.
    WrongKeyType {
        /// What the algorithm needs.
        needs: KeyFamily,
        /// What the key is.
        key: KeyFamily,
    },
    /// The signature does not verify (or the key is unusable, e.g. RSA under 2048 bits).
    Mismatch,
}

fn strip_zeros(v: &[u8]) -> Vec<u8> {
    let start = v.iter().position(|&b| b != 0).unwrap_or(v.len());
    v.get(start..).unwrap_or_default().to_vec()
}

impl PublicKey {
    /// Build from JWK public members.
    ///
    /// # Errors
    /// A message saying which member is missing or wrong.
    pub fn from_jwk(jwk: &JwkPublic) -> Result<PublicKey, String> {
        let member = |name: &str, v: &Option<String>| -> Result<Vec<u8>, String> {
            let s = v
                .as_deref()
                .ok_or_else(|| format!("missing member {name:?}"))?;
            b64::decode_url(s).ok_or_else(|| format!("member {name:?} is not base64url"))
        };
        match jwk.kty.as_str() {
            "RSA" => {
                let n = strip_zeros(&member("n", &jwk.n)?);
                let e = strip_zeros(&member("e", &jwk.e)?);
                if n.is_empty() || e.is_empty() || n.len() > 2048 || e.len() > 8 {
                    return Err("RSA modulus or exponent out of range".to_owned());
                }
                Ok(PublicKey::Rsa { n, e })
            }
            "EC" => {
                let (family, len) = match jwk.crv.as_deref() {
                    Some("P-256") => (KeyFamily::P256, 32),
                    Some("P-384") => (KeyFamily::P384, 48),
                    other => return Err(format!("unsupported EC curve {other:?}")),
                };
                let x = member("x", &jwk.x)?;
                let y = member("y", &jwk.y)?;
                if x.len() != len || y.len() != len {
                    return Err(format!("EC coordinates must be {len} bytes"));
                }
                let mut point = Vec::with_capacity(1 + 2 * len);
                point.push(4);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                Ok(PublicKey::Ec { family, point })
            }
            "OKP" => {
                if jwk.crv.as_deref() != Some("Ed25519") {
                    return Err(format!("unsupported OKP curve {:?}", jwk.crv));
                }
                let x = member("x", &jwk.x)?;
                if x.len() != 32 {
                    return Err("Ed25519 public key must be 32 bytes".to_owned());
                }
                Ok(PublicKey::Ed25519 { x })
            }
            other => Err(format!("unsupported key type {other:?}")),
        }
    }

    /// The JWK public members of this key.
    #[must_use]
    pub fn to_jwk(&self) -> JwkPublic {
        match self {
            PublicKey::Rsa { n, e } => JwkPublic {
                kty: "RSA".to_owned(),
                n: Some(b64::encode_url(n)),
                e: Some(b64::encode_url(e)),
                ..JwkPublic::default()
            },
            PublicKey::Ec { family, point } => {
                let len = (point.len().saturating_sub(1)) / 2;
                let coord =
                    |r: std::ops::Range<usize>| b64::encode_url(point.get(r).unwrap_or_default());
                JwkPublic {
                    kty: "EC".to_owned(),
                    crv: Some(
                        if *family == KeyFamily::P384 {
                            "P-384"
                        } else {
                            "P-256"
                        }
                        .to_owned(),
                    ),
                    x: Some(coord(1..1 + len)),
                    y: Some(coord(1 + len..1 + 2 * len)),
                    ..JwkPublic::default()
                }
            }
            PublicKey::Ed25519 { x } => JwkPublic {
                kty: "OKP".to_owned(),
                crv: Some("Ed25519".to_owned()),
                x: Some(b64::encode_url(x)),
                ..JwkPublic::default()
            },
        }
    }

    /// The key family.
    #[must_use]
    pub fn family(&self) -> KeyFamily {
        match self {
            PublicKey::Rsa { .. } => KeyFamily::Rsa,
            PublicKey::Ec { family, .. } => *family,
            PublicKey::Ed25519 { .. } => KeyFamily::Ed25519,
        }
    }

    /// A short description: `RSA-2048`, `EC P-256`, `Ed25519`.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            PublicKey::Rsa { n, .. } => format!("RSA-{}", bit_len(n)),
            other => other.family().to_string(),
        }
    }

    /// Verify `signature` over `message` with `alg`.
    ///
    /// # Errors
    /// [`SigFailure`] when the key type does not fit `alg` or the signature does not verify.
    pub fn verify(&self, alg: Alg, message: &[u8], sig: &[u8]) -> Result<(), SigFailure> {
        if alg.family() != self.family() {
            return Err(SigFailure::WrongKeyType {
                needs: alg.family(),
                key: self.family(),
            });
        }
        let ok = match self {
            PublicKey::Rsa { n, e } => {
                let params: &signature::RsaParameters = match alg {
                    Alg::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                    Alg::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                    Alg::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
                    Alg::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
                    Alg::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
                    _ => &signature::RSA_PSS_2048_8192_SHA512,
                };
                RsaPublicKeyComponents { n, e }
                    .verify(params, message, sig)
                    .is_ok()
            }
            PublicKey::Ec { point, .. } => {
                let a: &'static dyn signature::VerificationAlgorithm = if alg == Alg::ES384 {
                    &signature::ECDSA_P384_SHA384_FIXED
                } else {
                    &signature::ECDSA_P256_SHA256_FIXED
                };
                UnparsedPublicKey::new(a, point)
                    .verify(message, sig)
                    .is_ok()
            }
            PublicKey::Ed25519 { x } => UnparsedPublicKey::new(&signature::ED25519, x)
                .verify(message, sig)
                .is_ok(),
        };
        if ok {
            Ok(())
        } else {
            Err(SigFailure::Mismatch)
        }
    }
}

fn bit_len(n: &[u8]) -> usize {
    match n.first() {
        None => 0,
        Some(&b) => (n.len() - 1) * 8 + (8 - b.leading_zeros() as usize),
    }
}
