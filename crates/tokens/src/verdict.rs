//! The verdict on one token: its checks, in the fixed vocabulary of the JSON output.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use stormwatch_core::Timestamp;

/// The overall verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictKind {
    /// Every check passed.
    Valid,
    /// The signature verifies under a known key that may not sign this token.
    Forged,
    /// Malformed, refused algorithm, bad signature, or a claim check failed.
    Invalid,
    /// No key with the token's `kid` is known.
    UnknownKey,
}

impl VerdictKind {
    /// The name used in JSON and text.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            VerdictKind::Valid => "valid",
            VerdictKind::Forged => "forged",
            VerdictKind::Invalid => "invalid",
            VerdictKind::UnknownKey => "unknown_key",
        }
    }
}

impl fmt::Display for VerdictKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The name of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckName {
    /// The algorithm is allow-listed and fits the key type.
    Alg,
    /// The `kid` resolves to exactly one known key.
    Kid,
    /// The signature verifies.
    Signature,
    /// The key's issuer scope equals the token's issuer.
    KeyScope,
    /// `iss` has the issuer form with the token's tenant.
    Issuer,
    /// `tid` is a GUID and one of the expected tenants.
    Tenant,
    /// `aud` is the expected resource.
    Audience,
    /// `exp` is after the judged time.
    Expiry,
    /// `nbf` and `iat` are not after the judged time.
    NotBefore,
    /// The key's certificate was valid when the token was issued.
    KeyValidity,
    /// The key was not revoked or retired at the judged time.
    Revoked,
    /// The token class fits its issuer and use.
    TokenClass,
}

impl CheckName {
    /// The name used in JSON and text.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            CheckName::Alg => "alg",
            CheckName::Kid => "kid",
            CheckName::Signature => "signature",
            CheckName::KeyScope => "key_scope",
            CheckName::Issuer => "issuer",
            CheckName::Tenant => "tenant",
            CheckName::Audience => "audience",
            CheckName::Expiry => "expiry",
            CheckName::NotBefore => "not_before",
            CheckName::KeyValidity => "key_validity",
            CheckName::Revoked => "revoked",
            CheckName::TokenClass => "token_class",
        }
    }
}

/// One check and its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// Which check.
    pub check: CheckName,
    /// Passed?
    pub ok: bool,
    /// The explanation, in an analyst's words.
    pub detail: String,
}

/// The verdict on one token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Verdict {
    /// The overall verdict.
    pub verdict: VerdictKind,
    /// One sentence saying why.
    pub summary: String,
    /// Every check, in the order they were made.
    pub checks: Vec<Check>,
    /// The decoded header (`null` when the token could not be decoded).
    pub header: Value,
    /// The decoded claims (`null` when the token could not be decoded).
    pub claims: Value,
    /// The key the token names or was verified with (`null` when none is known).
    pub key: Value,
    /// The time the token was judged at.
    pub judged_at: Timestamp,
    /// Where that time comes from (`--at`, the token's `iat`, the record, now).
    pub judged_at_source: String,
    /// What the token is for, as its claims tell: `id` (an ID token), `access`, `unknown`.
    #[serde(default)]
    pub token_use: crate::class::TokenUse,
    /// Why the token could not be read at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Verdict {
    /// The check named `name`, when it was made.
    #[must_use]
    pub fn check(&self, name: CheckName) -> Option<&Check> {
        self.checks.iter().find(|c| c.check == name)
    }

    /// Did the check named `name` fail?
    #[must_use]
    pub fn failed(&self, name: CheckName) -> bool {
        self.check(name).is_some_and(|c| !c.ok)
    }

    /// The analyst's explanation: verdict and summary, then one line per check, failing first.
    #[must_use]
    pub fn to_text(&self) -> String {
        let mut out = format!("{}: {}\n", self.verdict.name().to_uppercase(), self.summary);
        out.push_str(&format!(
            "  judged at {} ({})\n",
            self.judged_at, self.judged_at_source
        ));
        if let Some(e) = &self.error {
            out.push_str(&format!("  error: {e}\n"));
        }
        let failing = self.checks.iter().filter(|c| !c.ok);
        let passing = self.checks.iter().filter(|c| c.ok);
        for c in failing.chain(passing) {
            out.push_str(&format!(
                "  {} {:<13} {}\n",
                if c.ok { "ok  " } else { "FAIL" },
                c.check.name(),
                c.detail
            ));
        }
        out
    }
}
