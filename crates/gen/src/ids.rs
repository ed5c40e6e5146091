//! Identifier formatting: GUIDs, PUIDs, SIDs, token ids.

use std::fmt::Write as _;

/// A GUID held as 128 bits, written in the lower-case 8-4-4-4-12 form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub(crate) struct Guid(pub(crate) u128);

impl Guid {
    /// A version-4-looking GUID from random bits.
    pub(crate) fn from_bits(bits: u128) -> Self {
        let v = (bits & !(0xf_u128 << 76)) | (0x4_u128 << 76);
        let v = (v & !(0x3_u128 << 62)) | (0x2_u128 << 62);
        Guid(v)
    }

    /// Append the text form to `out`.
    pub(crate) fn write_to(self, out: &mut String) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut buf = [b'-'; 36];
        let v = self.0;
        let mut pos = 0;
        for i in 0..32 {
            if matches!(i, 8 | 12 | 16 | 20) {
                pos += 1;
            }
            buf[pos] = HEX[((v >> (124 - 4 * i)) & 0xf) as usize];
            pos += 1;
        }
        out.push_str(std::str::from_utf8(&buf).unwrap_or_default());
    }
}

impl std::fmt::Display for Guid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = String::with_capacity(36);
        self.write_to(&mut s);
        f.write_str(&s)
    }
}

/// A token identifier as Entra writes `uniqueTokenIdentifier`: 16 bytes in URL-safe base64,
/// without padding (22 characters).
pub(crate) fn token_id(bits: u128) -> String {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = bits.to_be_bytes();
    let mut out = String::with_capacity(22);
    for chunk in bytes.chunks(3) {
        let b0 = u32::from(chunk[0]);
        let b1 = u32::from(chunk.get(1).copied().unwrap_or(0));
        let b2 = u32::from(chunk.get(2).copied().unwrap_or(0));
        let n = (b0 << 16) | (b1 << 8) | b2;
        let chars = 1 + chunk.len();
        for k in 0..chars {
            let idx = ((n >> (18 - 6 * k)) & 0x3f) as usize;
            out.push(char::from(B64[idx]));
        }
    }
    out
}

/// A PUID as Exchange writes `UserKey` (16 upper-case hex digits starting `1003`).
pub(crate) fn puid(bits: u64) -> String {
    format!("1003{:012X}", bits & 0xffff_ffff_ffff)
}

/// An on-premises-style SID for a tenant-scoped principal.
pub(crate) fn sid(tenant_bits: u64, rid: u64) -> String {
    let mut s = String::from("S-1-5-21-");
    let _ = write!(
        s,
        "{}-{}-{}-{}",
        (tenant_bits >> 32) % 4_000_000_000,
        tenant_bits % 4_000_000_000,
        (tenant_bits >> 16) % 4_000_000_000,
        rid % 100_000_000
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_form() {
        let g = Guid::from_bits(u128::MAX);
        let s = g.to_string();
        assert_eq!(s.len(), 36);
        assert_eq!(&s[14..15], "4");
        assert_eq!(s.matches('-').count(), 4);
    }

    #[test]
    fn token_id_is_22_chars() {
        assert_eq!(
            token_id(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef).len(),
            22
        );
        assert_eq!(puid(0xabc).len(), 16);
    }
}
