//! Judging one token: every check made and reported separately, then the verdict.

use serde_json::{Value, json};
use stormwatch_core::Timestamp;

use crate::alg::Alg;
use crate::cache::{SignatureCache, token_digest};
use crate::checks::{
    audience_check, issuer_check, key_scope, key_validity, revocation, span, tenant_check,
    token_class,
};
use crate::class::{Expect, TokenUse};
use crate::key::SigFailure;
use crate::registry::{KeyRecord, Registry};
use crate::token::Token;
use crate::verdict::{Check, CheckName, Verdict, VerdictKind};

/// How to judge tokens.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// Judge at this time instead of the token's `iat`.
    pub at: Option<Timestamp>,
    /// Label for `at` in reports (e.g. "--at", "event time of the record").
    pub at_source: String,
    /// Expected audiences; empty: not checked.
    pub audiences: Vec<String>,
    /// Expected tenants; empty: only the form of `tid` is checked.
    pub tenants: Vec<String>,
    /// Clock skew allowed on `exp`, `nbf` and `iat`, in seconds.
    pub skew_seconds: i64,
    /// The current time, used when neither `at` nor `iat` is known.
    pub now: Timestamp,
    /// What the caller is validating: an ID token presented to its own client, an access
    /// token at a resource, or (by default) whatever the claims and audience say.
    pub expect: Expect,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            at: None,
            at_source: "--at".to_owned(),
            audiences: Vec::new(),
            tenants: Vec::new(),
            skew_seconds: 300,
            now: now(),
            expect: Expect::Auto,
        }
    }
}

/// The current time.
#[must_use]
pub fn now() -> Timestamp {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    Timestamp::from_unix_seconds(secs)
}

/// Judge a token given as text.
#[must_use]
pub fn verify(text: &str, registry: &Registry, opts: &VerifyOptions) -> Verdict {
    verify_cached(text, registry, opts, None)
}

/// Judge a token given as text, remembering signature results in `cache` (for `scan`, where
/// the same token recurs in many records).
#[must_use]
pub fn verify_cached(
    text: &str,
    registry: &Registry,
    opts: &VerifyOptions,
    cache: Option<&mut SignatureCache>,
) -> Verdict {
    match Token::parse(text) {
        Ok(t) => verify_token_cached(&t, registry, opts, cache),
        Err(e) => Verdict {
            verdict: VerdictKind::Invalid,
            summary: format!("the token cannot be read: {e}"),
            checks: Vec::new(),
            header: Value::Null,
            claims: Value::Null,
            key: Value::Null,
            judged_at: opts.at.unwrap_or(opts.now),
            judged_at_source: if opts.at.is_some() {
                opts.at_source.clone()
            } else {
                "now".to_owned()
            },
            token_use: TokenUse::Unknown,
            error: Some(e.to_string()),
        },
    }
}

struct Checks(Vec<Check>);

impl Checks {
    fn push(&mut self, check: CheckName, ok: bool, detail: impl Into<String>) {
        self.0.push(Check {
            check,
            ok,
            detail: detail.into(),
        });
    }
}

/// Judge a parsed token.
#[must_use]
pub fn verify_token(t: &Token, registry: &Registry, opts: &VerifyOptions) -> Verdict {
    verify_token_cached(t, registry, opts, None)
}

/// Judge a parsed token, remembering signature results in `cache`.
#[must_use]
pub fn verify_token_cached(
    t: &Token,
    registry: &Registry,
    opts: &VerifyOptions,
    mut cache: Option<&mut SignatureCache>,
) -> Verdict {
    let digest = cache.as_ref().map(|_| token_digest(t));
    let iat = t.claim_time("iat");
    let (judged_at, judged_at_source) = match (opts.at, iat) {
        (Some(at), _) => (at, opts.at_source.clone()),
        (None, Some(i)) => (i, "the token's iat".to_owned()),
        (None, None) => (opts.now, "now: the token has no iat".to_owned()),
    };
    let mut c = Checks(Vec::new());

    // 1. alg
    let alg_text = t.header_str("alg");
    let alg = Alg::from_header(alg_text);

    // 2. kid
    let kid = t.header_str("kid").or_else(|| t.header_str("x5t"));
    let candidates: Vec<&KeyRecord> = match kid {
        Some(k) => registry.find(k),
        None => match &alg {
            Ok(a) => registry
                .keys
                .iter()
                .filter(|k| k.public_key().is_some_and(|p| p.family() == a.family()))
                .collect(),
            Err(_) => Vec::new(),
        },
    };

    // 3. signature: try every candidate.
    let mut key: Option<&KeyRecord> = None;
    let mut sig_ok = false;
    let mut sig_detail = String::new();
    let mut alg_key_mismatch: Option<String> = None;
    if let Ok(a) = &alg {
        for k in &candidates {
            let Some(pk) = k.public_key() else { continue };
            let run = || pk.verify(*a, t.signing_input.as_bytes(), &t.signature);
            let result = match (cache.as_deref_mut(), &digest) {
                (Some(c), Some(d)) => {
                    let index = registry
                        .keys
                        .iter()
                        .position(|x| std::ptr::eq(x, *k))
                        .unwrap_or(usize::MAX);
                    c.check(d, index, run)
                }
                _ => run(),
            };
            match result {
                Ok(()) => {
                    key = Some(k);
                    sig_ok = true;
                    sig_detail = format!("the {a} signature verifies under key {}", k.describe());
                    break;
                }
                Err(SigFailure::WrongKeyType { needs, key: kt }) => {
                    alg_key_mismatch = Some(format!(
                        "alg {a} needs an {needs} key but key {} is {kt}: the alg does not fit the key type",
                        k.kid
                    ));
                }
                Err(SigFailure::Mismatch) => {}
            }
        }
        if !sig_ok && kid.is_some() {
            key = candidates.first().copied();
        }
    }
    match (&alg, &alg_key_mismatch, sig_ok) {
        (Err(refusal), _, _) => c.push(CheckName::Alg, false, refusal.to_string()),
        (Ok(_), Some(m), false) => c.push(CheckName::Alg, false, m.clone()),
        (Ok(a), _, _) => c.push(
            CheckName::Alg,
            true,
            format!("{a} is allow-listed and fits the key type"),
        ),
    }
    let kid_ok = kid.is_some() && candidates.len() == 1;
    let kid_detail = match (kid, candidates.len()) {
        (None, _) => match key {
            Some(k) => format!(
                "the header names no key (no kid or x5t); found {} by trying every key, but a \
                 token must name its key",
                k.kid
            ),
            None => "the header names no key (no kid or x5t)".to_owned(),
        },
        (Some(k), 0) => format!(
            "no key with kid {k:?} in the registry ({} keys known): the signer is unknown",
            registry.keys.len()
        ),
        (Some(_), 1) => format!(
            "resolves to {}",
            candidates
                .first()
                .map_or_else(String::new, |k| k.describe())
        ),
        (Some(k), n) => format!("kid {k:?} matches {n} different keys; a kid must pin one key"),
    };
    let embedded: Vec<&str> = ["jwk", "jku", "x5u", "x5c"]
        .into_iter()
        .filter(|h| t.header.contains_key(*h))
        .collect();
    let kid_detail = if embedded.is_empty() {
        kid_detail
    } else {
        format!(
            "{kid_detail}; the header also carries {}, which is ignored: a token never brings its own key",
            embedded.join(", ")
        )
    };
    c.push(CheckName::Kid, kid_ok, kid_detail);
    if sig_ok {
        c.push(CheckName::Signature, true, sig_detail);
    } else {
        let detail = match (&alg, key, candidates.is_empty()) {
            (Err(_), _, _) => format!(
                "not verified: alg {:?} is refused, so no signature is accepted",
                alg_text.unwrap_or("")
            ),
            (Ok(_), _, true) => "not verified: no known key to verify it with".to_owned(),
            (Ok(_), _, false) if alg_key_mismatch.is_some() && candidates.len() == 1 => {
                "not verified: the alg does not fit the key".to_owned()
            }
            (Ok(a), Some(k), false) => format!(
                "the {a} signature does not verify under key {}: the token was altered or \
                 signed with another private key",
                k.describe()
            ),
            (Ok(a), None, false) => {
                format!("the {a} signature does not verify under any key of that type")
            }
        };
        c.push(CheckName::Signature, false, detail);
    }

    let iss = t.claim_str("iss");
    let tid = t.claim_str("tid");

    // 4. key scope
    let (scope_ok, scope_detail, unscoped) = key_scope(key, iss, tid);
    c.push(CheckName::KeyScope, scope_ok, scope_detail);

    // 5. issuer
    let (ok, detail) = issuer_check(iss, tid);
    c.push(CheckName::Issuer, ok, detail);

    // 6. tenant
    let (ok, detail) = tenant_check(tid, iss, &opts.tenants);
    c.push(CheckName::Tenant, ok, detail);

    // 7. audience
    let auds = t.audiences();
    let (ok, detail) = audience_check(&auds, &opts.audiences);
    c.push(CheckName::Audience, ok, detail);

    // 8. time
    let skew = opts.skew_seconds;
    match t.claim_time("exp") {
        None => c.push(
            CheckName::Expiry,
            false,
            "no exp: a token without an expiry is refused",
        ),
        Some(exp) if judged_at > exp.add_seconds(skew) => c.push(
            CheckName::Expiry,
            false,
            format!(
                "expired at {exp}, {} before the judged time {judged_at}",
                span(exp, judged_at)
            ),
        ),
        Some(exp) => c.push(
            CheckName::Expiry,
            true,
            format!("not expired: valid until {exp}"),
        ),
    }
    let nbf = t.claim_time("nbf");
    match (nbf, iat) {
        (Some(n), _) if judged_at.add_seconds(skew) < n => c.push(
            CheckName::NotBefore,
            false,
            format!(
                "not valid before {n} (nbf), {} after the judged time {judged_at}",
                span(judged_at, n)
            ),
        ),
        (_, Some(i)) if judged_at.add_seconds(skew) < i => c.push(
            CheckName::NotBefore,
            false,
            format!("issued at {i} (iat), after the judged time {judged_at}: issued in the future"),
        ),
        (Some(n), _) => c.push(CheckName::NotBefore, true, format!("valid from {n} (nbf)")),
        (None, _) => c.push(
            CheckName::NotBefore,
            true,
            "no nbf; iat is not in the future",
        ),
    }

    // 9. key validity, judged at issue time.
    let issued = iat.unwrap_or(judged_at);
    c.push_pair(
        CheckName::KeyValidity,
        key_validity(key, issued, iat.is_some()),
    );

    // 10. revocation, judged at the judged time.
    c.push_pair(CheckName::Revoked, revocation(key, judged_at, issued));

    // 11. token class
    let (ok, detail, token_use) = token_class(t, iss, &opts.audiences, opts.expect);
    c.push(CheckName::TokenClass, ok, detail);

    let checks = c.0;
    let failed = |n: CheckName| checks.iter().any(|x| x.check == n && !x.ok);
    let verdict = if alg.is_err() || failed(CheckName::Alg) {
        VerdictKind::Invalid
    } else if kid.is_some() && candidates.is_empty() || kid.is_none() && key.is_none() {
        VerdictKind::UnknownKey
    } else if !sig_ok {
        VerdictKind::Invalid
    } else if (failed(CheckName::KeyScope) && !(unscoped && tid.is_none()))
        || failed(CheckName::KeyValidity)
        || failed(CheckName::Revoked)
    {
        VerdictKind::Forged
    } else if checks.iter().any(|x| !x.ok) {
        VerdictKind::Invalid
    } else {
        VerdictKind::Valid
    };
    let summary = summarise(verdict, &checks, key, kid);
    Verdict {
        verdict,
        summary,
        checks,
        header: Value::Object(t.header.clone()),
        claims: Value::Object(t.claims.clone()),
        key: key.map_or(Value::Null, key_json),
        judged_at,
        judged_at_source,
        token_use,
        error: None,
    }
}

impl Checks {
    fn push_pair(&mut self, check: CheckName, (ok, detail): (bool, String)) {
        self.push(check, ok, detail);
    }
}

fn key_json(k: &KeyRecord) -> Value {
    json!({
        "kid": k.kid,
        "x5t": k.x5t,
        "thumbprint_sha1": k.thumbprint_sha1,
        "type": k.public_key().map(crate::key::PublicKey::describe),
        "subject": k.subject,
        "issuer_scope": k.issuer_scope,
        "tenant_class": k.tenant_class,
        "not_before": k.not_before,
        "not_after": k.not_after,
        "revoked_at": k.revoked_at,
        "removed_at": k.removed_at,
        "source": k.source,
        "builtin": k.builtin,
        "note": k.note,
    })
}

fn summarise(
    verdict: VerdictKind,
    checks: &[Check],
    key: Option<&KeyRecord>,
    kid: Option<&str>,
) -> String {
    let failing: Vec<&Check> = checks.iter().filter(|c| !c.ok).collect();
    let first = |names: &[CheckName]| {
        failing
            .iter()
            .find(|c| names.contains(&c.check))
            .map(|c| c.detail.clone())
    };
    let key_desc = key.map_or_else(String::new, |k| {
        let mut s = k.kid.clone();
        if let Some(n) = &k.note {
            s.push_str(&format!(" ({})", n.split(':').next().unwrap_or(n)));
        }
        s
    });
    let key_problems: Vec<&str> = failing
        .iter()
        .filter(|c| {
            matches!(
                c.check,
                CheckName::KeyScope | CheckName::KeyValidity | CheckName::Revoked
            )
        })
        .map(|c| c.check.name())
        .collect();
    match verdict {
        VerdictKind::Valid => {
            format!("signed by {key_desc}, which may sign this token; every check passed")
        }
        VerdictKind::Forged => format!(
            "the signature verifies under key {key_desc}, but that key may not sign this token: {}",
            first(&[
                CheckName::KeyScope,
                CheckName::KeyValidity,
                CheckName::Revoked
            ])
            .unwrap_or_default()
        ),
        VerdictKind::UnknownKey => format!(
            "no known key with kid {:?}: the signature cannot be checked, so the token is not trusted",
            kid.unwrap_or("")
        ),
        VerdictKind::Invalid => {
            let main = first(&[CheckName::Alg])
                .or_else(|| first(&[CheckName::Signature]))
                .or_else(|| failing.first().map(|c| c.detail.clone()))
                .unwrap_or_default();
            let mut s = main;
            let sig_failed = failing.iter().any(|c| c.check == CheckName::Signature);
            if sig_failed && key.is_some() && !key_problems.is_empty() {
                s.push_str(&format!(
                    ". Even with a genuine signature it would be forged: key {key_desc} may not \
                     sign it ({} failing)",
                    key_problems.join(", ")
                ));
            }
            s
        }
    }
}
