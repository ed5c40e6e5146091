//! The key registry: every signing key ever seen, with its scope, validity, revocation and
//! history. A file the user keeps; built from JWKS documents and OpenID metadata over time.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use stormwatch_core::Timestamp;

use crate::b64;
use crate::error::{Result, TokenError};
use crate::key::{JwkPublic, PublicKey};
use crate::scope::{self, TenantClass};
use crate::x509;

/// The Storm-0558 key as served by Microsoft (see `data/storm-0558-PROVENANCE.md`).
const STORM_0558_JWK: &str = include_str!("../data/storm-0558-jwk.json");
/// Its `kid` (= `x5t`, base64url of the certificate's SHA-1).
pub const STORM_0558_KID: &str = "1LTMzakihiRla_8z2BEJVXeWMqo";

/// Largest registry, JWKS or metadata document read (bytes).
pub const MAX_DOCUMENT_LEN: u64 = 32 * 1024 * 1024;
/// Most keys read from one JWKS document.
pub const MAX_KEYS_PER_DOCUMENT: usize = 10_000;

/// Where a key's validity period comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValidityFrom {
    /// notBefore/notAfter of the key's `x5c` certificate.
    X5c,
    /// Given by the user.
    Given,
}

/// One signing key in the registry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyRecord {
    /// Key id.
    pub kid: String,
    /// base64url SHA-1 certificate thumbprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x5t: Option<String>,
    /// Hex SHA-1 of the certificate, as Microsoft publishes thumbprints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbprint_sha1: Option<String>,
    /// Public key members.
    pub jwk: JwkPublic,
    /// The issuer this key may sign for: fixed, or templated with `{tenantid}`. `None` is unscoped.
    #[serde(default)]
    pub issuer_scope: Option<String>,
    /// Which tenants the key may sign for.
    pub tenant_class: TenantClass,
    /// Start of validity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<Timestamp>,
    /// End of validity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<Timestamp>,
    /// Where the validity comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validity_from: Option<ValidityFrom>,
    /// Certificate subject common name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// When the key was revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<Timestamp>,
    /// Where this key came from (file, URL or label).
    pub source: String,
    /// First import that contained it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<Timestamp>,
    /// Last import that contained it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<Timestamp>,
    /// First import of its source that no longer contained it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed_at: Option<Timestamp>,
    /// Free text (e.g. why the key matters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Built into stormwatch.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub builtin: bool,
    /// The parsed public key (not stored).
    #[serde(skip)]
    parsed: Option<PublicKey>,
}

impl KeyRecord {
    /// The parsed public key, when its members are usable.
    #[must_use]
    pub fn public_key(&self) -> Option<&PublicKey> {
        self.parsed.as_ref()
    }

    fn refresh(&mut self) {
        self.parsed = PublicKey::from_jwk(&self.jwk).ok();
    }

    /// A one-line description: kid, key type, certificate subject, source.
    #[must_use]
    pub fn describe(&self) -> String {
        let kind = self
            .parsed
            .as_ref()
            .map_or_else(|| self.jwk.kty.clone(), PublicKey::describe);
        let mut s = format!("{} ({kind}", self.kid);
        if let Some(cn) = &self.subject {
            s.push_str(&format!(", CN={cn}"));
        }
        s.push_str(&format!(", from {})", self.source));
        s
    }
}

/// One import, kept so the history of each source can be read back.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImportRecord {
    /// Source label.
    pub source: String,
    /// When the snapshot was taken.
    pub at: Timestamp,
    /// The kids it contained.
    pub kids: Vec<String>,
}

/// How to import a document.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Source label (file, URL or name); keys of the same source absent later are marked removed.
    pub source: String,
    /// Issuer scope for keys that carry no `issuer` of their own.
    pub issuer: Option<String>,
    /// Tenant class for the imported keys (else derived from the scope).
    pub tenant_class: Option<TenantClass>,
    /// When the snapshot was taken.
    pub at: Timestamp,
}

/// What an import did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportSummary {
    /// Keys seen for the first time.
    pub added: Vec<String>,
    /// Keys seen again.
    pub seen_again: Vec<String>,
    /// Keys of this source that are no longer present.
    pub removed: Vec<String>,
    /// Keys skipped, with the reason.
    pub skipped: Vec<String>,
    /// The issuer an OpenID metadata document declared (no keys are in such a document).
    pub metadata_issuer: Option<String>,
}

/// The key registry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Registry {
    /// Format version.
    pub version: u32,
    /// Every key ever seen.
    pub keys: Vec<KeyRecord>,
    /// Imports in order.
    #[serde(default)]
    pub imports: Vec<ImportRecord>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry::builtin()
    }
}

impl Registry {
    /// An empty registry (no built-in key).
    #[must_use]
    pub fn empty() -> Registry {
        Registry {
            version: 1,
            keys: Vec::new(),
            imports: Vec::new(),
        }
    }

    /// The built-in registry: the Storm-0558 consumer signing key.
    #[must_use]
    pub fn builtin() -> Registry {
        let mut r = Registry::empty();
        r.keys.push(storm_0558_record());
        r
    }

    /// Read a registry file; the built-in key is added when the file lacks it.
    ///
    /// # Errors
    /// [`TokenError`] when the file cannot be read or is not a registry.
    pub fn load(path: &Path) -> Result<Registry> {
        let bytes = read_document(path)?;
        let mut r: Registry = serde_json::from_slice(&bytes).map_err(|e| TokenError::Document {
            what: path.display().to_string(),
            reason: format!("not a stormwatch key registry: {e}"),
        })?;
        for k in &mut r.keys {
            k.refresh();
        }
        if !r.keys.iter().any(|k| k.builtin) {
            r.keys.insert(0, storm_0558_record());
        }
        Ok(r)
    }

    /// Write the registry as pretty JSON.
    ///
    /// # Errors
    /// [`TokenError::Io`] when the file cannot be written.
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(|e| TokenError::Document {
            what: path.display().to_string(),
            reason: e.to_string(),
        })?;
        std::fs::write(path, text + "\n").map_err(|source| TokenError::Io {
            path: path.display().to_string(),
            source,
        })
    }

    /// Keys whose `kid` (or, failing that, `x5t`) is `id`.
    #[must_use]
    pub fn find(&self, id: &str) -> Vec<&KeyRecord> {
        let by_kid: Vec<&KeyRecord> = self.keys.iter().filter(|k| k.kid == id).collect();
        if by_kid.is_empty() {
            self.keys
                .iter()
                .filter(|k| k.x5t.as_deref() == Some(id))
                .collect()
        } else {
            by_kid
        }
    }

    /// Record a revocation time for every key with this `kid` or `x5t`; returns how many.
    pub fn revoke(&mut self, id: &str, at: Timestamp) -> usize {
        let mut n = 0;
        for k in &mut self.keys {
            if k.kid == id || k.x5t.as_deref() == Some(id) {
                k.revoked_at = Some(k.revoked_at.map_or(at, |r| r.min(at)));
                n += 1;
            }
        }
        n
    }

    /// Import a JWKS document (`{"keys": [...]}`) or an OpenID metadata document.
    ///
    /// A metadata document holds no keys: its `issuer` is returned in the summary for use as
    /// the scope of the JWKS imported with it.
    ///
    /// # Errors
    /// [`TokenError::Document`] when the document is neither.
    pub fn import(&mut self, doc: &Value, opts: &ImportOptions) -> Result<ImportSummary> {
        let mut summary = ImportSummary::default();
        let Some(keys) = doc.get("keys").and_then(Value::as_array) else {
            if let Some(iss) = doc.get("issuer").and_then(Value::as_str) {
                summary.metadata_issuer = Some(iss.to_owned());
                return Ok(summary);
            }
            return Err(TokenError::Document {
                what: opts.source.clone(),
                reason: "neither a JWKS (no \"keys\" array) nor OpenID metadata (no \"issuer\")"
                    .to_owned(),
            });
        };
        let mut present = Vec::new();
        for (i, jwk) in keys.iter().take(MAX_KEYS_PER_DOCUMENT).enumerate() {
            match record_from_jwk(jwk, opts) {
                Ok(None) => summary
                    .skipped
                    .push(format!("key {i}: not a signing key (use enc)")),
                Ok(Some(rec)) => {
                    present.push(rec.kid.clone());
                    self.upsert(rec, opts, &mut summary);
                }
                Err(e) => summary.skipped.push(format!("key {i}: {e}")),
            }
        }
        if keys.len() > MAX_KEYS_PER_DOCUMENT {
            summary.skipped.push(format!(
                "{} keys past the first {MAX_KEYS_PER_DOCUMENT}",
                keys.len() - MAX_KEYS_PER_DOCUMENT
            ));
        }
        for k in &mut self.keys {
            if k.source == opts.source && !present.contains(&k.kid) && k.removed_at.is_none() {
                k.removed_at = Some(opts.at);
                summary.removed.push(k.kid.clone());
            }
        }
        self.imports.push(ImportRecord {
            source: opts.source.clone(),
            at: opts.at,
            kids: present,
        });
        Ok(summary)
    }

    fn upsert(&mut self, rec: KeyRecord, opts: &ImportOptions, summary: &mut ImportSummary) {
        let same = self
            .keys
            .iter_mut()
            .find(|k| k.kid == rec.kid && k.jwk == rec.jwk && k.source == rec.source);
        if let Some(k) = same {
            k.last_seen = Some(k.last_seen.map_or(opts.at, |t| t.max(opts.at)));
            k.first_seen = Some(k.first_seen.map_or(opts.at, |t| t.min(opts.at)));
            k.removed_at = None;
            if rec.issuer_scope.is_some() {
                k.issuer_scope = rec.issuer_scope;
                k.tenant_class = rec.tenant_class;
            }
            summary.seen_again.push(rec.kid);
        } else {
            summary.added.push(rec.kid.clone());
            self.keys.push(rec);
        }
    }
}

/// Build a record from one JWK; `Ok(None)` for encryption keys.
///
/// # Errors
/// [`TokenError::Jwk`] when the key is unusable.
pub fn record_from_jwk(jwk: &Value, opts: &ImportOptions) -> Result<Option<KeyRecord>> {
    let s = |name: &str| jwk.get(name).and_then(Value::as_str).map(str::to_owned);
    if s("use").as_deref() == Some("enc") {
        return Ok(None);
    }
    let err = |kid: &Option<String>, reason: String| TokenError::Jwk {
        kid: kid.clone().unwrap_or_default(),
        reason,
    };
    let kid_given = s("kid");
    let mut public = JwkPublic {
        kty: s("kty").unwrap_or_default(),
        n: s("n"),
        e: s("e"),
        crv: s("crv"),
        x: s("x"),
        y: s("y"),
    };
    let cert = match jwk
        .get("x5c")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
    {
        Some(Value::String(c)) => {
            let der = b64::decode_std(c)
                .ok_or_else(|| err(&kid_given, "x5c[0] is not base64".to_owned()))?;
            Some(x509::parse_certificate(&der).map_err(|e| err(&kid_given, e.to_string()))?)
        }
        Some(_) => return Err(err(&kid_given, "x5c[0] is not a string".to_owned())),
        None => None,
    };
    let key = match PublicKey::from_jwk(&public) {
        Ok(k) => {
            if let Some(c) = &cert
                && c.public_key != k
            {
                return Err(err(
                    &kid_given,
                    "the x5c certificate holds a different key than the JWK members".to_owned(),
                ));
            }
            k
        }
        Err(reason) => match &cert {
            Some(c) if public.n.is_none() && public.x.is_none() => c.public_key.clone(),
            _ => return Err(err(&kid_given, reason)),
        },
    };
    public = key.to_jwk();
    let x5t = s("x5t").or_else(|| cert.as_ref().map(|c| c.x5t.clone()));
    let kid = kid_given
        .clone()
        .or_else(|| x5t.clone())
        .ok_or_else(|| err(&None, "a key needs a kid or an x5t".to_owned()))?;
    if kid.len() > 256 {
        return Err(err(&None, "kid longer than 256 characters".to_owned()));
    }
    let issuer_scope = s("issuer").or_else(|| opts.issuer.clone());
    let tenant_class = opts
        .tenant_class
        .unwrap_or_else(|| TenantClass::from_scope(issuer_scope.as_deref()));
    let mut rec = KeyRecord {
        kid,
        x5t,
        thumbprint_sha1: cert.as_ref().map(|c| c.sha1_hex.clone()),
        jwk: public,
        issuer_scope,
        tenant_class,
        not_before: cert.as_ref().map(|c| c.not_before),
        not_after: cert.as_ref().map(|c| c.not_after),
        validity_from: cert.as_ref().map(|_| ValidityFrom::X5c),
        subject: cert.as_ref().and_then(|c| c.subject_cn.clone()),
        revoked_at: None,
        source: opts.source.clone(),
        first_seen: Some(opts.at),
        last_seen: Some(opts.at),
        removed_at: None,
        note: None,
        builtin: false,
        parsed: None,
    };
    rec.refresh();
    Ok(Some(rec))
}

/// The built-in record of the Storm-0558 key.
fn storm_0558_record() -> KeyRecord {
    let opts = ImportOptions {
        source: "built in".to_owned(),
        issuer: Some(scope::CONSUMER_ISSUER.to_owned()),
        tenant_class: Some(TenantClass::Consumer),
        at: Timestamp::EPOCH,
    };
    let jwk: Value = serde_json::from_str(STORM_0558_JWK).unwrap_or(Value::Null);
    // The embedded document is fixed and tested (`builtin_key_is_the_storm_0558_key`), so the
    // fallbacks below are never taken; they keep this path free of panics.
    let mut rec = match record_from_jwk(&jwk, &opts) {
        Ok(Some(r)) => r,
        _ => KeyRecord {
            kid: STORM_0558_KID.to_owned(),
            x5t: Some(STORM_0558_KID.to_owned()),
            thumbprint_sha1: None,
            jwk: JwkPublic::default(),
            issuer_scope: opts.issuer.clone(),
            tenant_class: TenantClass::Consumer,
            not_before: None,
            not_after: None,
            validity_from: None,
            subject: None,
            revoked_at: None,
            source: opts.source.clone(),
            first_seen: None,
            last_seen: None,
            removed_at: None,
            note: None,
            builtin: true,
            parsed: None,
        },
    };
    rec.builtin = true;
    rec.first_seen = None;
    rec.last_seen = None;
    rec.revoked_at = Timestamp::from_civil(2023, 6, 29, 0, 0, 0, 0);
    rec.note = Some(
        "Storm-0558: the 2016 Microsoft account (consumer) signing key used in 2023 to forge \
         tokens for enterprise mailboxes; certificate expired 2021-04-04, revoked 2023-06-29; \
         public key as served by Microsoft's consumer key-discovery endpoint \
         (crates/tokens/data/storm-0558-PROVENANCE.md)"
            .to_owned(),
    );
    rec
}

/// Read a document with a size limit.
///
/// # Errors
/// [`TokenError::Io`] or [`TokenError::Document`] when it is too large.
pub fn read_document(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read as _;
    let io = |source| TokenError::Io {
        path: path.display().to_string(),
        source,
    };
    let f = std::fs::File::open(path).map_err(io)?;
    let mut out = Vec::new();
    f.take(MAX_DOCUMENT_LEN + 1)
        .read_to_end(&mut out)
        .map_err(io)?;
    if out.len() as u64 > MAX_DOCUMENT_LEN {
        return Err(TokenError::Document {
            what: path.display().to_string(),
            reason: format!("larger than {MAX_DOCUMENT_LEN} bytes"),
        });
    }
    Ok(out)
}

/// Parse `KID@TIME` (e.g. from `--revoked`).
///
/// # Errors
/// [`TokenError::Revocation`] when it is not of that form.
pub fn parse_revocation(s: &str) -> Result<(String, Timestamp)> {
    let (kid, at) = s
        .rsplit_once('@')
        .ok_or_else(|| TokenError::Revocation(s.to_owned()))?;
    let at = Timestamp::parse(at).map_err(|_| TokenError::Revocation(s.to_owned()))?;
    if kid.is_empty() {
        return Err(TokenError::Revocation(s.to_owned()));
    }
    Ok((kid.to_owned(), at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_key_is_the_storm_0558_key() {
        let r = Registry::builtin();
        let k = r.find(STORM_0558_KID);
        assert_eq!(k.len(), 1);
        let k = k[0];
        assert!(k.builtin);
        assert_eq!(k.x5t.as_deref(), Some(STORM_0558_KID));
        assert_eq!(
            k.thumbprint_sha1.as_deref(),
            Some("d4b4cccda9228624656bff33d8110955779632aa")
        );
        assert_eq!(k.not_before.unwrap().to_string(), "2016-04-05T14:43:35Z");
        assert_eq!(k.not_after.unwrap().to_string(), "2021-04-04T14:43:35Z");
        assert_eq!(k.revoked_at.unwrap().to_string(), "2023-06-29T00:00:00Z");
        assert_eq!(k.issuer_scope.as_deref(), Some(scope::CONSUMER_ISSUER));
        assert_eq!(k.tenant_class, TenantClass::Consumer);
        assert_eq!(k.subject.as_deref(), Some("Live ID STS Signing Public Key"));
        assert_eq!(k.public_key().unwrap().describe(), "RSA-2048");
    }

    #[test]
    fn revocation_argument() {
        let (kid, at) = parse_revocation("abc@2023-06-29").unwrap();
        assert_eq!(
            (kid.as_str(), at.to_string().as_str()),
            ("abc", "2023-06-29T00:00:00Z")
        );
        assert!(parse_revocation("abc").is_err());
        assert!(parse_revocation("@2023-06-29").is_err());
    }
}
