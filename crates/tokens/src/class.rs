//! ID token or access token: what a token is for, and whether it fits where it is presented.
//!
//! An ID token (OpenID Connect) proves a sign-in to the application it was issued to: its
//! `aud` is that application's client id, it may carry the `nonce` the application sent, and it
//! carries no permissions (`scp`, `roles`). An access token is for a resource API: `aud` is the
//! API, `azp`/`appid` is the client that asked for it, and `scp` (delegated) or `roles`
//! (application) say what it may do. An application validating its own ID token passes its
//! client id as the audience, and that token is valid; the same ID token presented to an API
//! as a bearer token is not (a token that grants nothing, or a confused deputy).

use serde::{Deserialize, Serialize};

use crate::token::Token;

/// What a token is for, as told by its claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TokenUse {
    /// An OpenID Connect ID token: proof of a sign-in to its client.
    Id,
    /// An OAuth access token for a resource API.
    Access,
    /// The claims do not say.
    #[default]
    Unknown,
}

impl TokenUse {
    /// `id`, `access`, `unknown`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            TokenUse::Id => "id",
            TokenUse::Access => "access",
            TokenUse::Unknown => "unknown",
        }
    }
}

/// What the caller is validating (`tokens verify --expect id|access`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Expect {
    /// Tell from the claims and the audience given.
    #[default]
    Auto,
    /// An application validating the ID token of a sign-in to itself (`--audience` is its
    /// client id).
    Id,
    /// A resource API validating a bearer token (`--audience` is the API).
    Access,
}

impl std::str::FromStr for Expect {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Expect::Auto),
            "id" | "id_token" | "id-token" => Ok(Expect::Id),
            "access" | "access_token" | "access-token" => Ok(Expect::Access),
            other => Err(format!(
                "unknown token use {other:?}: expected id, access or auto"
            )),
        }
    }
}

/// Is `s` an application (client) id: a GUID?
fn is_client_id(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// What the token is for, and the claims that tell.
pub(crate) fn classify(t: &Token) -> (TokenUse, Vec<&'static str>) {
    let has = |c: &str| t.claims.contains_key(c);
    let mut why = Vec::new();
    for c in ["scp", "roles", "idtyp"] {
        if has(c) {
            why.push(c);
        }
    }
    if !why.is_empty() {
        return (TokenUse::Access, why);
    }
    for c in ["nonce", "at_hash", "c_hash"] {
        if has(c) {
            why.push(c);
        }
    }
    if !why.is_empty() {
        return (TokenUse::Id, why);
    }
    let auds = t.audiences();
    let client = t.claim_str("azp").or_else(|| t.claim_str("appid"));
    match client {
        // Issued to one client for another audience: an access token (without permissions).
        Some(c) if !auds.contains(&c) => (TokenUse::Access, vec!["azp/appid ≠ aud"]),
        _ if auds.len() == 1
            && is_client_id(auds[0])
            && (has("preferred_username") || has("email") || has("name")) =>
        {
            (TokenUse::Id, vec!["aud is a client id", "profile claims"])
        }
        _ => (TokenUse::Unknown, Vec::new()),
    }
}

/// The `token_class` check's use judgement: (passes, why, what the token is).
pub(crate) fn judge(t: &Token, audiences: &[String], expect: Expect) -> (bool, String, TokenUse) {
    let (class, why) = classify(t);
    let told = if why.is_empty() {
        String::new()
    } else {
        format!(" ({})", why.join(", "))
    };
    let auds = t.audiences();
    let aud_text = if auds.is_empty() {
        "(none)".to_owned()
    } else {
        auds.join(", ")
    };
    let matched: Vec<&str> = auds
        .iter()
        .copied()
        .filter(|a| audiences.iter().any(|e| e == a))
        .collect();
    let azp = t.claim_str("azp").or_else(|| t.claim_str("appid"));
    let grants = t.claims.contains_key("scp") || t.claims.contains_key("roles");
    match (expect, class) {
        (Expect::Access, TokenUse::Access) if !grants => (
            false,
            format!(
                "an access token{told} with no scp or roles: it grants nothing at a resource (--expect access)"
            ),
            class,
        ),
        (Expect::Access, TokenUse::Access) => (true, format!("an access token{told}"), class),
        (Expect::Access, TokenUse::Id) => (
            false,
            format!(
                "an ID token{told} presented where an access token is expected (--expect access): an ID token proves a sign-in to its client and grants no access to a resource"
            ),
            class,
        ),
        (Expect::Access, TokenUse::Unknown) => (
            false,
            "no scp or roles: the token grants nothing at a resource (--expect access)".to_owned(),
            class,
        ),
        (Expect::Id, TokenUse::Access) => (
            false,
            format!("an access token{told} presented as an ID token (--expect id)"),
            class,
        ),
        (Expect::Id, _) => match azp {
            // OpenID Connect Core 3.1.3.7: when azp is present, it is the client's id.
            Some(c) if !audiences.is_empty() && !audiences.iter().any(|e| e == c) => (
                false,
                format!(
                    "an ID token whose authorised party (azp/appid) {c} is not the client it is presented to ({})",
                    audiences.join(", ")
                ),
                TokenUse::Id,
            ),
            _ => (
                true,
                format!("an ID token{told}, validated as one (--expect id)"),
                TokenUse::Id,
            ),
        },
        (Expect::Auto, TokenUse::Access | TokenUse::Unknown) => (
            true,
            if class == TokenUse::Access {
                format!("an access token{told}")
            } else {
                "a token of unknown class".to_owned()
            },
            class,
        ),
        (Expect::Auto, TokenUse::Id) if audiences.is_empty() => (
            true,
            format!(
                "an ID token{told}; no audience given (--audience), so not judged as one presented to a resource"
            ),
            class,
        ),
        (Expect::Auto, TokenUse::Id) => {
            if let Some(a) = matched.iter().find(|a| is_client_id(a)) {
                (
                    true,
                    format!(
                        "an ID token{told} presented to its own client {a} (aud = --audience): valid as proof of a sign-in to that application; it grants no access to a resource API (give --expect access when judging a bearer token at an API whose id is {a})"
                    ),
                    class,
                )
            } else {
                (
                    false,
                    format!(
                        "an ID token{told} presented to a resource as an access token: an ID token's aud is its client's application id, here {aud_text}"
                    ),
                    class,
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expect_parses_and_client_ids_are_guids() {
        assert_eq!("id".parse::<Expect>(), Ok(Expect::Id));
        assert_eq!("Access".parse::<Expect>(), Ok(Expect::Access));
        assert!("bearer".parse::<Expect>().is_err());
        assert!(is_client_id("00000000-0000-0000-0000-00004C16745D"));
        assert!(!is_client_id("https://outlook.office365.com"));
        assert!(!is_client_id("00000000-0000-0000-0000-00004C16745"));
    }
}
