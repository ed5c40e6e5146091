//! The one error type of this crate.

use thiserror::Error;

/// Everything that can go wrong reading tokens, keys, certificates and registries.
#[derive(Debug, Error)]
pub enum TokenError {
    /// The token is not a compact JWS (`header.payload.signature`).
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// The token is longer than the accepted maximum.
    #[error("token is {len} bytes, more than the {max} accepted")]
    TooLarge {
        /// Length of the token text.
        len: usize,
        /// The maximum accepted.
        max: usize,
    },
    /// A part of the token is not valid base64url.
    #[error("token {part} is not valid base64url")]
    Base64 {
        /// `header`, `payload` or `signature`.
        part: &'static str,
    },
    /// A part of the token is not a JSON object, or a hostile one.
    #[error("token {part} is not acceptable JSON: {reason}")]
    Json {
        /// `header` or `payload`.
        part: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A JSON Web Key that cannot be used.
    #[error("key {kid:?}: {reason}")]
    Jwk {
        /// The key's `kid`, when it has one.
        kid: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A certificate (`x5c`) that cannot be read.
    #[error("certificate: {0}")]
    Der(&'static str),
    /// A JWKS, OpenID metadata or registry document that cannot be read.
    #[error("{what}: {reason}")]
    Document {
        /// Which document (a path or a label).
        what: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A `--revoked KID@TIME` argument that cannot be read.
    #[error("revocation {0:?}: expected KID@TIME, e.g. 1LTMzakihiRla_8z2BEJVXeWMqo@2023-06-29")]
    Revocation(String),
    /// Reading or writing a file.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Result alias of this crate.
pub type Result<T, E = TokenError> = std::result::Result<T, E>;
