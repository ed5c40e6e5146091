//! JWT and JWKS verification against a registry of signing keys with their scope, explaining
//! every check of a verdict.
//!
//! A token is judged at a point in time (`--at`, the time of the record it was found in, or its
//! own `iat`) against a [`Registry`] of keys: each key with its issuer scope, tenant class,
//! certificate validity, revocation time and history. Twelve checks are made and reported
//! separately ([`CheckName`]); the [`Verdict`] is `valid`, `forged` (the signature verifies
//! under a known key that may not sign this token), `invalid` or `unknown_key`.
//!
//! ```
//! use stormwatch_tokens::{Registry, VerifyOptions, verify};
//! let v = verify("eyJhbGciOiJub25lIn0.e30.", &Registry::builtin(), &VerifyOptions::default());
//! assert_eq!(v.verdict.name(), "invalid");
//! ```
#![deny(missing_docs)]

mod alg;
mod b64;
mod cache;
mod checks;
mod class;
mod error;
mod json;
mod key;
mod registry;
pub mod scan;
mod scope;
mod token;
mod verdict;
mod verify;
mod x509;

pub use alg::{Alg, AlgRefusal, KeyFamily};
pub use cache::SignatureCache;
pub use class::{Expect, TokenUse};
pub use error::{Result, TokenError};
pub use key::{JwkPublic, PublicKey, SigFailure};
pub use registry::{
    ImportOptions, ImportRecord, ImportSummary, KeyRecord, MAX_DOCUMENT_LEN, MAX_KEYS_PER_DOCUMENT,
    Registry, STORM_0558_KID, ValidityFrom, parse_revocation, read_document, record_from_jwk,
};
pub use scope::{
    CONSUMER_ISSUER, CONSUMER_TENANT, TENANT_ISSUER_TEMPLATE, TenantClass, describe_tenant,
    is_consumer, is_guid, tenant_of_issuer,
};
pub use token::{MAX_TOKEN_LEN, Token, redact};
pub use verdict::{Check, CheckName, Verdict, VerdictKind};
pub use verify::{VerifyOptions, now, verify, verify_cached, verify_token, verify_token_cached};
pub use x509::{CertInfo, MAX_CERT_LEN, parse_certificate};
