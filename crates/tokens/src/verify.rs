//! Judging one token: every check made and reported separately, then the verdict.

use std::collections::HashMap;

use serde_json::{Value, json};
use stormwatch_core::Timestamp;

use crate::alg::Alg;
use crate::key::SigFailure;
use crate::registry::{KeyRecord, Registry};
use crate::scope::{self, TenantClass};
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

/// Which signatures verified under which key, so that a token seen again is not verified again.
/// Keyed by the SHA-256 of the signed token and the key's place in one registry: use one cache
/// with one registry only.
#[derive(Debug, Default)]
pub struct SignatureCache {
    seen: HashMap<([u8; 32], usize), Result<(), SigFailure>>,
    /// Results answered from the cache.
    pub hits: u64,
    /// Results computed.
    pub misses: u64,
}

/// Most entries a [`SignatureCache`] holds before it starts again (about 20 MB).
const MAX_CACHE_ENTRIES: usize = 256 * 1024;

impl SignatureCache {
    fn check(
        &mut self,
        token: &[u8; 32],
        key_index: usize,
        verify: impl FnOnce() -> Result<(), SigFailure>,
    ) -> Result<(), SigFailure> {
        if let Some(r) = self.seen.get(&(*token, key_index)) {
            self.hits += 1;
            return r.clone();
        }
        self.misses += 1;
        let r = verify();
        if self.seen.len() >= MAX_CACHE_ENTRIES {
            self.seen.clear();
        }
        self.seen.insert((*token, key_index), r.clone());
        r
    }
}

fn token_digest(t: &Token) -> [u8; 32] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(t.signing_input.as_bytes());
    ctx.update(b".");
    ctx.update(&t.signature);
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
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
    let (ok, detail) = token_class(t, iss, &opts.audiences);
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

/// Whole days (or hours) between two times, for explanations.
fn span(from: Timestamp, to: Timestamp) -> String {
    let secs = to.unix_seconds().saturating_sub(from.unix_seconds()).abs();
    let days = secs / 86_400;
    if days >= 2 {
        format!("{days} days")
    } else if secs >= 7200 {
        format!("{} hours", secs / 3600)
    } else {
        format!("{secs} seconds")
    }
}

fn key_scope(
    key: Option<&KeyRecord>,
    iss: Option<&str>,
    tid: Option<&str>,
) -> (bool, String, bool) {
    let Some(k) = key else {
        return (false, "no key to take a scope from".to_owned(), false);
    };
    let iss_s = iss.unwrap_or("(none)");
    let Some(scope_t) = k.issuer_scope.as_deref() else {
        return (
            false,
            format!(
                "unscoped: key {} carries no issuer scope, so nothing says it may sign for iss {iss_s}{}",
                k.kid,
                tid.map_or_else(String::new, |t| format!(
                    " and {}",
                    scope::describe_tenant(t)
                ))
            ),
            true,
        );
    };
    // The tenant class is the hard rule: a consumer key never signs for an enterprise tenant.
    if let Some(t) = tid {
        if k.tenant_class == TenantClass::Consumer && !scope::is_consumer(t) {
            return (
                false,
                format!(
                    "key {} is a consumer (Microsoft account) key scoped to {scope_t}; a consumer \
                     key cannot sign for an enterprise tenant, yet the token claims {} (iss {iss_s}). \
                     This is the Storm-0558 pattern",
                    k.kid,
                    scope::describe_tenant(t)
                ),
                false,
            );
        }
        if k.tenant_class == TenantClass::Enterprise && scope::is_consumer(t) {
            return (
                false,
                format!(
                    "key {} is an enterprise key scoped to {scope_t}; it cannot sign for the \
                     consumer (Microsoft account) tenant",
                    k.kid
                ),
                false,
            );
        }
    }
    let expected = if scope_t.contains("{tenantid}") {
        match tid {
            None => {
                return (
                    false,
                    format!(
                        "key {} is scoped per tenant ({scope_t}) but the token has no tid to put in it",
                        k.kid
                    ),
                    false,
                );
            }
            Some(t) if !scope::is_guid(t) => {
                return (
                    false,
                    format!(
                        "tid {t:?} is not a GUID, so it cannot fill the key's issuer template {scope_t}"
                    ),
                    false,
                );
            }
            Some(t) => scope_t.replace("{tenantid}", t),
        }
    } else {
        scope_t.to_owned()
    };
    match iss {
        Some(i) if i == expected => (
            true,
            format!(
                "key {} may sign for {expected} ({} key), which is the token's iss",
                k.kid, k.tenant_class
            ),
            false,
        ),
        Some(i) => (
            false,
            format!(
                "key {} may only sign for {expected} (scope {scope_t}, {} key), but the token's iss is {i}",
                k.kid, k.tenant_class
            ),
            false,
        ),
        None => (
            false,
            format!(
                "the token has no iss; key {} may only sign for {expected}",
                k.kid
            ),
            false,
        ),
    }
}

fn issuer_check(iss: Option<&str>, tid: Option<&str>) -> (bool, String) {
    let Some(i) = iss else {
        return (false, "no iss claim".to_owned());
    };
    match scope::tenant_of_issuer(i) {
        Some(t) if !scope::is_guid(t) => (
            false,
            format!("iss {i} names tenant {t:?}, which is not a GUID"),
        ),
        Some(t) => match tid {
            None => (
                false,
                format!("iss {i} names tenant {t} but the token has no tid"),
            ),
            Some(x) if x.eq_ignore_ascii_case(t) => {
                (true, format!("iss {i} has the issuer form of its tid"))
            }
            Some(x) => (
                false,
                format!("iss {i} names tenant {t} but tid is {x}: iss and tid disagree"),
            ),
        },
        None => (
            true,
            format!(
                "iss {i} (not a Microsoft tenant issuer; the key scope check compares it with the key)"
            ),
        ),
    }
}

fn tenant_check(tid: Option<&str>, iss: Option<&str>, expected: &[String]) -> (bool, String) {
    let Some(t) = tid else {
        if iss.and_then(scope::tenant_of_issuer).is_some() {
            return (false, "no tid claim on a Microsoft token".to_owned());
        }
        if expected.is_empty() {
            return (
                true,
                "no tid claim (not a Microsoft tenant token)".to_owned(),
            );
        }
        return (
            false,
            format!("no tid claim; expected one of {}", expected.join(", ")),
        );
    };
    if !scope::is_guid(t) {
        return (false, format!("tid {t:?} is not a GUID"));
    }
    if expected.is_empty() {
        return (
            true,
            format!(
                "tid is {}; no expected tenants given (--tenant), so not compared",
                scope::describe_tenant(t)
            ),
        );
    }
    if expected.iter().any(|e| e.eq_ignore_ascii_case(t)) {
        return (
            true,
            format!("tid is {}, an expected tenant", scope::describe_tenant(t)),
        );
    }
    if scope::is_consumer(t) {
        return (
            false,
            format!(
                "a consumer (Microsoft account) token presented where only enterprise tenants {} \
                 are expected: enterprise resources reject the consumer tenant",
                expected.join(", ")
            ),
        );
    }
    (
        false,
        format!(
            "tid {t} is not an expected tenant ({})",
            expected.join(", ")
        ),
    )
}

fn audience_check(auds: &[&str], expected: &[String]) -> (bool, String) {
    let shown = if auds.is_empty() {
        "(none)".to_owned()
    } else {
        auds.join(", ")
    };
    if expected.is_empty() {
        return (
            true,
            format!("aud is {shown}; no expected audience given (--audience), so not compared"),
        );
    }
    if auds.iter().any(|a| expected.iter().any(|e| e == a)) {
        (true, format!("aud {shown} is this resource"))
    } else {
        (
            false,
            format!(
                "aud {shown} is not this resource (expected {}): a token for another audience is refused",
                expected.join(", ")
            ),
        )
    }
}

fn key_validity(key: Option<&KeyRecord>, issued: Timestamp, has_iat: bool) -> (bool, String) {
    let Some(k) = key else {
        return (false, "no key: its validity cannot be checked".to_owned());
    };
    let when = if has_iat { "issued" } else { "judged (no iat)" };
    let from = match k.validity_from {
        Some(crate::registry::ValidityFrom::X5c) => "certificate",
        _ => "validity period",
    };
    match (k.not_before, k.not_after) {
        (_, Some(na)) if issued > na => (
            false,
            format!(
                "key {}'s {from} expired on {na}, {} before the token was {when} at {issued}: an \
                 expired key signs nothing",
                k.kid,
                span(na, issued)
            ),
        ),
        (Some(nb), _) if issued < nb => (
            false,
            format!(
                "the token was {when} at {issued}, before key {}'s {from} started ({nb})",
                k.kid
            ),
        ),
        (None, None) => (
            true,
            format!(
                "no validity period known for key {} (no x5c); not checked",
                k.kid
            ),
        ),
        (nb, na) => (
            true,
            format!(
                "key {}'s {from} ({} to {}) covers the time the token was {when} ({issued})",
                k.kid,
                nb.map_or_else(|| "?".to_owned(), |t| t.to_string()),
                na.map_or_else(|| "?".to_owned(), |t| t.to_string())
            ),
        ),
    }
}

fn revocation(key: Option<&KeyRecord>, judged: Timestamp, issued: Timestamp) -> (bool, String) {
    let Some(k) = key else {
        return (false, "no key: its revocation cannot be checked".to_owned());
    };
    if let Some(r) = k.revoked_at
        && (judged >= r || issued >= r)
    {
        return (
            false,
            format!(
                "key {} was revoked on {r}; the token is judged at {judged}, after the revocation",
                k.kid
            ),
        );
    }
    if let Some(d) = k.removed_at
        && judged >= d
    {
        return (
            false,
            format!(
                "key {} was removed from its source ({}) by {d}: retired before the judged time {judged}",
                k.kid, k.source
            ),
        );
    }
    match k.revoked_at {
        Some(r) => (
            true,
            format!(
                "not revoked at {judged} (key {} was revoked later, on {r})",
                k.kid
            ),
        ),
        None => (true, format!("key {} is not revoked", k.kid)),
    }
}

fn token_class(t: &Token, iss: Option<&str>, audiences: &[String]) -> (bool, String) {
    let ver = t.claim_str("ver");
    if let (Some(v), Some(i)) = (ver, iss) {
        let v2_issuer = i.starts_with("https://login.microsoftonline.com/") && i.ends_with("/v2.0");
        let v1_issuer = i.starts_with("https://sts.windows.net/");
        if v == "2.0" && v1_issuer {
            return (
                false,
                format!(
                    "a v2.0 token (ver 2.0) with a v1.0 issuer {i}: the issuer type does not match the endpoint"
                ),
            );
        }
        if v == "1.0" && v2_issuer {
            return (
                false,
                format!(
                    "a v1.0 token (ver 1.0) with a v2.0 issuer {i}: the issuer type does not match the endpoint"
                ),
            );
        }
    }
    let access = t.claims.contains_key("scp") || t.claims.contains_key("roles");
    let id_token = t.claims.contains_key("nonce")
        || (!access
            && t.claim_str("idtyp").is_none()
            && t.claims.contains_key("preferred_username"));
    if id_token && !access && !audiences.is_empty() {
        return (
            false,
            "an ID token (no scp or roles) presented to a resource as an access token".to_owned(),
        );
    }
    let kind = if access {
        "an access token"
    } else if id_token {
        "an ID token"
    } else {
        "a token of unknown class"
    };
    (
        true,
        format!(
            "{kind}{}",
            ver.map_or_else(String::new, |v| format!(", ver {v}"))
        ),
    )
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
