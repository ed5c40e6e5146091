//! Parsing a compact JWS into its header, claims and signature, with hard limits.

use serde_json::{Map, Value};
use stormwatch_core::Timestamp;

use crate::b64;
use crate::error::{Result, TokenError};
use crate::json;

/// Longest token accepted (real Entra ID access tokens are 1–4 KiB).
pub const MAX_TOKEN_LEN: usize = 64 * 1024;

/// A compact JWS, decoded but not verified.
#[derive(Debug, Clone)]
pub struct Token {
    /// The decoded protected header.
    pub header: Map<String, Value>,
    /// The decoded claims.
    pub claims: Map<String, Value>,
    /// `header.payload`: what the signature covers.
    pub signing_input: String,
    /// The decoded signature.
    pub signature: Vec<u8>,
}

impl Token {
    /// Parse a compact JWS. Whitespace around it and a `Bearer ` prefix are tolerated.
    ///
    /// # Errors
    /// [`TokenError`] saying which part is malformed.
    pub fn parse(text: &str) -> Result<Token> {
        let text = text.trim();
        let text = text
            .strip_prefix("Bearer ")
            .or_else(|| text.strip_prefix("bearer "))
            .unwrap_or(text)
            .trim();
        if text.len() > MAX_TOKEN_LEN {
            return Err(TokenError::TooLarge {
                len: text.len(),
                max: MAX_TOKEN_LEN,
            });
        }
        if text.is_empty() {
            return Err(TokenError::Malformed("empty token"));
        }
        let mut parts = text.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed(
                "a signed token has exactly three dot-separated parts (five would be an encrypted JWE)",
            ));
        };
        let header_bytes =
            b64::decode_token_part(h).ok_or(TokenError::Base64 { part: "header" })?;
        let payload_bytes =
            b64::decode_token_part(p).ok_or(TokenError::Base64 { part: "payload" })?;
        let signature =
            b64::decode_token_part(s).ok_or(TokenError::Base64 { part: "signature" })?;
        let header = json::parse_object(&header_bytes).map_err(|reason| TokenError::Json {
            part: "header",
            reason,
        })?;
        let claims = json::parse_object(&payload_bytes).map_err(|reason| TokenError::Json {
            part: "payload",
            reason,
        })?;
        let signing_input = text
            .get(..h.len() + 1 + p.len())
            .unwrap_or_default()
            .to_owned();
        Ok(Token {
            header,
            claims,
            signing_input,
            signature,
        })
    }

    /// A string header member.
    #[must_use]
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header.get(name).and_then(Value::as_str)
    }

    /// A string claim.
    #[must_use]
    pub fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// A NumericDate claim (`exp`, `nbf`, `iat`) as a timestamp; `None` when absent or not a number.
    #[must_use]
    pub fn claim_time(&self, name: &str) -> Option<Timestamp> {
        let v = self.claims.get(name)?;
        let secs = v.as_i64().or_else(|| {
            v.as_f64()
                .filter(|f| f.is_finite() && f.abs() < 1e15)
                .map(|f| f.floor() as i64)
        })?;
        Some(Timestamp::from_unix_seconds(secs))
    }

    /// The audiences (`aud` as a string or an array of strings).
    #[must_use]
    pub fn audiences(&self) -> Vec<&str> {
        match self.claims.get("aud") {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        }
    }
}

/// The token with its signature replaced by a length marker, for reports.
#[must_use]
pub fn redact(text: &str) -> String {
    match text.rfind('.') {
        Some(i) => {
            let sig_len = text.len() - i - 1;
            format!(
                "{}.<signature redacted, {sig_len} chars>",
                text.get(..i).unwrap_or_default()
            )
        }
        None => "<not a token>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_and_limits() {
        assert!(matches!(Token::parse("a.b"), Err(TokenError::Malformed(_))));
        assert!(matches!(
            Token::parse("a.b.c.d.e"),
            Err(TokenError::Malformed(_))
        ));
        assert!(matches!(
            Token::parse("!!.e30.AA"),
            Err(TokenError::Base64 { part: "header" })
        ));
        let huge = "e".repeat(MAX_TOKEN_LEN + 1);
        assert!(matches!(
            Token::parse(&huge),
            Err(TokenError::TooLarge { .. })
        ));
        let t = Token::parse("Bearer eyJhbGciOiJub25lIn0.e30.").unwrap();
        assert_eq!(t.header_str("alg"), Some("none"));
        assert!(t.signature.is_empty());
        assert_eq!(redact("a.b.cdef"), "a.b.<signature redacted, 4 chars>");
    }
}
