//! JWT and JWKS verification against a registry of signing keys with their scope, explaining every check of a verdict.
#![deny(missing_docs)]
