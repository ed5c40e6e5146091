//! Secrets: held in a type that never prints them, and removed from any text that came over
//! the network before that text is kept (a hostile or broken server may echo what it was sent).

use std::fmt;
use std::sync::{Arc, RwLock};

/// A client secret (or any credential text). `Debug` and `Display` print `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a secret.
    #[must_use]
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// Read the secret from an environment variable.
    ///
    /// # Errors
    /// [`crate::CollectError::SecretEnv`] when the variable is unset, empty or not UTF-8 (its
    /// value is never quoted).
    pub fn from_env(var: &str) -> Result<Self, crate::CollectError> {
        match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => Ok(Secret(v)),
            _ => Err(crate::CollectError::SecretEnv(var.to_owned())),
        }
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Longest server text kept (error messages and descriptions).
const MAX_TEXT: usize = 600;

/// The credentials of one run (client secrets, client assertions, access tokens as they are
/// issued), removed from server text before it is kept anywhere.
#[derive(Clone, Default)]
pub(crate) struct Redactor {
    known: Arc<RwLock<Vec<String>>>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Redactor")
    }
}

impl Redactor {
    /// Remember one more credential text. Short texts are not worth hiding (and would mangle
    /// ordinary words).
    pub(crate) fn add(&self, secret: &str) {
        if secret.len() < 8 {
            return;
        }
        if let Ok(mut k) = self.known.write()
            && !k.iter().any(|s| s == secret)
        {
            k.push(secret.to_owned());
        }
    }

    /// Text from the network made safe to keep: credentials replaced by `[redacted]`, control
    /// characters by spaces, cut to a bounded length.
    pub(crate) fn clean(&self, text: &str) -> String {
        let mut s: String = text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        if let Ok(k) = self.known.read() {
            for secret in k.iter() {
                if s.contains(secret.as_str()) {
                    s = s.replace(secret.as_str(), "[redacted]");
                }
            }
        }
        let s = s.trim();
        if s.len() > MAX_TEXT {
            let mut end = MAX_TEXT;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            format!("{}…", &s[..end])
        } else {
            s.to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2-very-secret");
        assert_eq!(format!("{s:?} {s}"), "Secret([redacted]) [redacted]");
    }

    #[test]
    fn known_credentials_are_removed_and_text_is_bounded() {
        let r = Redactor::default();
        r.add("sup3r-s3cret-value");
        r.add("short");
        let cleaned = r.clean("bad secret sup3r-s3cret-value\nfor short\u{7}");
        assert_eq!(cleaned, "bad secret [redacted] for short");
        let long = "x".repeat(5000);
        assert!(r.clean(&long).chars().count() <= MAX_TEXT + 1);
    }
}
