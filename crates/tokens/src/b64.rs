//! Base64 decoding as JOSE needs it: base64url without padding for tokens and JWK members,
//! standard base64 with padding for `x5c` certificates.

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};

/// base64url that tolerates trailing `=` (some JWKS writers pad) but otherwise is strict.
const URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// base64url as in a compact JWS: no padding allowed.
const URL_NO_PAD: GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Decode one part of a compact token (no padding).
pub(crate) fn decode_token_part(s: &str) -> Option<Vec<u8>> {
    URL_NO_PAD.decode(s).ok()
}

/// Decode a JWK member (`n`, `e`, `x`, `y`, `x5t`).
pub(crate) fn decode_url(s: &str) -> Option<Vec<u8>> {
    URL.decode(s.trim()).ok()
}

/// Decode an `x5c` entry (standard base64, padded).
pub(crate) fn decode_std(s: &str) -> Option<Vec<u8>> {
    STANDARD.decode(s.trim()).ok()
}

/// base64url without padding.
pub(crate) fn encode_url(bytes: &[u8]) -> String {
    URL_NO_PAD.encode(bytes)
}
