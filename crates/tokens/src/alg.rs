//! JWS algorithms: the allow-list, and which key type each one needs.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An accepted JWS signature algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA P-256 with SHA-256.
    ES256,
    /// ECDSA P-384 with SHA-384.
    ES384,
    /// Ed25519.
    EdDSA,
}

/// The family of key an algorithm needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFamily {
    /// RSA (`kty` `RSA`).
    Rsa,
    /// ECDSA on P-256 (`kty` `EC`, `crv` `P-256`).
    P256,
    /// ECDSA on P-384 (`kty` `EC`, `crv` `P-384`).
    P384,
    /// Ed25519 (`kty` `OKP`, `crv` `Ed25519`).
    Ed25519,
}

impl fmt::Display for KeyFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyFamily::Rsa => "RSA",
            KeyFamily::P256 => "EC P-256",
            KeyFamily::P384 => "EC P-384",
            KeyFamily::Ed25519 => "Ed25519",
        })
    }
}

/// Why a header `alg` is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlgRefusal {
    /// The header has no `alg`, or it is not a string.
    Missing,
    /// `none`: an unsigned token.
    None,
    /// `HS256/384/512`: a shared-secret MAC, which a public key must never verify.
    Hmac(String),
    /// Anything else not on the allow-list.
    Unsupported(String),
}

impl fmt::Display for AlgRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AlgRefusal::Missing => f.write_str("the header has no alg"),
            AlgRefusal::None => {
                f.write_str("alg \"none\": the token is unsigned and is refused whatever it claims")
            }
            AlgRefusal::Hmac(a) => write!(
                f,
                "alg {a:?} is a shared-secret MAC; a public signing key must never be used as \
                 an HMAC secret (algorithm confusion), so it is refused"
            ),
            AlgRefusal::Unsupported(a) => write!(f, "alg {a:?} is not on the allow-list"),
        }
    }
}

impl Alg {
    /// Every accepted algorithm.
    pub const ALL: [Alg; 9] = [
        Alg::RS256,
        Alg::RS384,
        Alg::RS512,
        Alg::PS256,
        Alg::PS384,
        Alg::PS512,
        Alg::ES256,
        Alg::ES384,
        Alg::EdDSA,
    ];

    /// The JOSE name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Alg::RS256 => "RS256",
            Alg::RS384 => "RS384",
            Alg::RS512 => "RS512",
            Alg::PS256 => "PS256",
            Alg::PS384 => "PS384",
            Alg::PS512 => "PS512",
            Alg::ES256 => "ES256",
            Alg::ES384 => "ES384",
            Alg::EdDSA => "EdDSA",
        }
    }

    /// Read a header `alg`, refusing `none`, HMAC and anything unknown.
    ///
    /// # Errors
    /// [`AlgRefusal`] saying why the algorithm is refused.
    pub fn from_header(alg: Option<&str>) -> Result<Alg, AlgRefusal> {
        let Some(a) = alg else {
            return Err(AlgRefusal::Missing);
        };
        if let Some(ok) = Alg::ALL.into_iter().find(|x| x.name() == a) {
            return Ok(ok);
        }
        if a.eq_ignore_ascii_case("none") {
            Err(AlgRefusal::None)
        } else if a.len() <= 8 && a.to_ascii_uppercase().starts_with("HS") {
            Err(AlgRefusal::Hmac(a.to_owned()))
        } else {
            Err(AlgRefusal::Unsupported(a.chars().take(40).collect()))
        }
    }

    /// The key family this algorithm needs.
    #[must_use]
    pub fn family(self) -> KeyFamily {
        match self {
            Alg::RS256 | Alg::RS384 | Alg::RS512 | Alg::PS256 | Alg::PS384 | Alg::PS512 => {
                KeyFamily::Rsa
            }
            Alg::ES256 => KeyFamily::P256,
            Alg::ES384 => KeyFamily::P384,
            Alg::EdDSA => KeyFamily::Ed25519,
        }
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals() {
        assert_eq!(Alg::from_header(Some("RS256")), Ok(Alg::RS256));
        assert_eq!(Alg::from_header(Some("none")), Err(AlgRefusal::None));
        assert_eq!(Alg::from_header(Some("NONE")), Err(AlgRefusal::None));
        assert!(matches!(
            Alg::from_header(Some("HS256")),
            Err(AlgRefusal::Hmac(_))
        ));
        assert!(matches!(
            Alg::from_header(Some("ES512")),
            Err(AlgRefusal::Unsupported(_))
        ));
        assert_eq!(Alg::from_header(None), Err(AlgRefusal::Missing));
    }
}
