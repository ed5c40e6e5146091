//! Signature results remembered across the records of a scan.

use std::collections::HashMap;

use crate::key::SigFailure;
use crate::token::Token;

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
    pub(crate) fn check(
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

pub(crate) fn token_digest(t: &Token) -> [u8; 32] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(t.signing_input.as_bytes());
    ctx.update(b".");
    ctx.update(&t.signature);
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}
