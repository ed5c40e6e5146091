//! A small, bounded DER reader for exactly what key validation needs from an `x5c` certificate:
//! the validity period, the subject's common name and the subject public key. It walks the
//! structure with explicit lengths only, never recurses on input, and rejects anything odd.

use ring::digest;
use stormwatch_core::Timestamp;

use crate::alg::KeyFamily;
use crate::error::{Result, TokenError};
use crate::key::PublicKey;

/// Largest certificate accepted (real signing certificates are 1–2 KiB).
pub const MAX_CERT_LEN: usize = 16 * 1024;

/// What is read from a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// Start of validity.
    pub not_before: Timestamp,
    /// End of validity.
    pub not_after: Timestamp,
    /// The subject's common name, when it has one.
    pub subject_cn: Option<String>,
    /// The subject public key.
    pub public_key: PublicKey,
    /// base64url of the SHA-1 of the certificate DER (the JOSE `x5t`).
    pub x5t: String,
    /// Hex SHA-1 of the certificate DER (the thumbprint Microsoft publishes).
    pub sha1_hex: String,
}

const TAG_SEQUENCE: u8 = 0x30;
const TAG_INTEGER: u8 = 0x02;
const TAG_BIT_STRING: u8 = 0x03;
const TAG_OID: u8 = 0x06;
const TAG_UTC_TIME: u8 = 0x17;
const TAG_GENERALIZED_TIME: u8 = 0x18;
const TAG_VERSION: u8 = 0xa0;

const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_EC: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];
const OID_CN: &[u8] = &[0x55, 0x04, 0x03];

/// One DER element: tag, content, and what follows it.
fn read(input: &[u8]) -> Result<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input
        .split_first()
        .ok_or(TokenError::Der("truncated element"))?;
    if tag & 0x1f == 0x1f {
        return Err(TokenError::Der("multi-byte tags are not expected here"));
    }
    let (&first, rest) = rest
        .split_first()
        .ok_or(TokenError::Der("truncated length"))?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 3 {
            return Err(TokenError::Der("unsupported length form"));
        }
        let bytes = rest
            .get(..count)
            .ok_or(TokenError::Der("truncated length"))?;
        let len = bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, rest.get(count..).unwrap_or_default())
    };
    if rest.len() < len {
        return Err(TokenError::Der("element longer than its container"));
    }
    let (content, after) = rest.split_at(len);
    Ok((tag, content, after))
}

fn expect<'a>(input: &'a [u8], want: u8, what: &'static str) -> Result<(&'a [u8], &'a [u8])> {
    let (tag, content, rest) = read(input)?;
    if tag == want {
        Ok((content, rest))
    } else {
        Err(TokenError::Der(what))
    }
}

/// Parse a certificate (DER).
///
/// # Errors
/// [`TokenError::Der`] naming the part that could not be read.
pub fn parse_certificate(der: &[u8]) -> Result<CertInfo> {
    if der.len() > MAX_CERT_LEN {
        return Err(TokenError::Der("certificate larger than 16 KiB"));
    }
    let (cert, trailing) = expect(der, TAG_SEQUENCE, "certificate is not a SEQUENCE")?;
    if !trailing.is_empty() {
        return Err(TokenError::Der("data after the certificate"));
    }
    let (tbs, _) = expect(cert, TAG_SEQUENCE, "tbsCertificate is not a SEQUENCE")?;
    let mut rest = tbs;
    if rest.first() == Some(&TAG_VERSION) {
        rest = read(rest)?.2;
    }
    let (_serial, r) = expect(rest, TAG_INTEGER, "serial number is not an INTEGER")?;
    let (_sigalg, r) = expect(r, TAG_SEQUENCE, "signature algorithm is not a SEQUENCE")?;
    let (_issuer, r) = expect(r, TAG_SEQUENCE, "issuer is not a SEQUENCE")?;
    let (validity, r) = expect(r, TAG_SEQUENCE, "validity is not a SEQUENCE")?;
    let (subject, r) = expect(r, TAG_SEQUENCE, "subject is not a SEQUENCE")?;
    let (spki, _) = expect(r, TAG_SEQUENCE, "subjectPublicKeyInfo is not a SEQUENCE")?;

    let (t1, t1_content, vr) = read(validity)?;
    let (t2, t2_content, _) = read(vr)?;
    let not_before = parse_time(t1, t1_content)?;
    let not_after = parse_time(t2, t2_content)?;

    let sha1 = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, der);
    let sha1_hex = sha1.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    Ok(CertInfo {
        not_before,
        not_after,
        subject_cn: common_name(subject),
        public_key: parse_spki(spki)?,
        x5t: crate::b64::encode_url(sha1.as_ref()),
        sha1_hex,
    })
}

fn parse_time(tag: u8, content: &[u8]) -> Result<Timestamp> {
    let text = std::str::from_utf8(content).map_err(|_| TokenError::Der("time is not ASCII"))?;
    let digits = text
        .strip_suffix('Z')
        .ok_or(TokenError::Der("time is not in UTC (Z)"))?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TokenError::Der("time has non-digits"));
    }
    let num = |r: std::ops::Range<usize>| -> Result<u32> {
        digits
            .get(r)
            .and_then(|s| s.parse().ok())
            .ok_or(TokenError::Der("time too short"))
    };
    let (year, off) = match (tag, digits.len()) {
        (TAG_UTC_TIME, 12) => {
            let yy = num(0..2)?;
            // RFC 5280: 50–99 means 19YY, 00–49 means 20YY.
            (i64::from(if yy >= 50 { 1900 + yy } else { 2000 + yy }), 2)
        }
        (TAG_GENERALIZED_TIME, 14) => (i64::from(num(0..4)?), 4),
        _ => {
            return Err(TokenError::Der(
                "validity time is neither UTCTime nor GeneralizedTime",
            ));
        }
    };
    Timestamp::from_civil(
        year,
        num(off..off + 2)?,
        num(off + 2..off + 4)?,
        num(off + 4..off + 6)?,
        num(off + 6..off + 8)?,
        num(off + 8..off + 10)?,
        0,
    )
    .ok_or(TokenError::Der("impossible date in validity"))
}

fn common_name(mut name: &[u8]) -> Option<String> {
    // Name ::= SEQUENCE OF SET OF SEQUENCE { type OID, value ANY }
    while !name.is_empty() {
        let (_, set, rest) = read(name).ok()?;
        name = rest;
        let (_, atv, _) = read(set).ok()?;
        let (oid, value_part) = expect(atv, TAG_OID, "").ok()?;
        if oid == OID_CN {
            let (_, value, _) = read(value_part).ok()?;
            return std::str::from_utf8(value).ok().map(str::to_owned);
        }
    }
    None
}

fn parse_spki(spki: &[u8]) -> Result<PublicKey> {
    let (alg, rest) = expect(spki, TAG_SEQUENCE, "key algorithm is not a SEQUENCE")?;
    let (bits, _) = expect(rest, TAG_BIT_STRING, "public key is not a BIT STRING")?;
    let (&unused, key) = bits
        .split_first()
        .ok_or(TokenError::Der("empty public key"))?;
    if unused != 0 {
        return Err(TokenError::Der("public key has unused bits"));
    }
    let (oid, params) = expect(alg, TAG_OID, "key algorithm has no OID")?;
    if oid == OID_RSA {
        let (seq, _) = expect(key, TAG_SEQUENCE, "RSA key is not a SEQUENCE")?;
        let (n, r) = expect(seq, TAG_INTEGER, "RSA modulus is not an INTEGER")?;
        let (e, _) = expect(r, TAG_INTEGER, "RSA exponent is not an INTEGER")?;
        let strip = |v: &[u8]| {
            let s = v.iter().position(|&b| b != 0).unwrap_or(v.len());
            v.get(s..).unwrap_or_default().to_vec()
        };
        return Ok(PublicKey::Rsa {
            n: strip(n),
            e: strip(e),
        });
    }
    if oid == OID_EC {
        let (curve, _) = expect(params, TAG_OID, "EC key has no named curve")?;
        let (family, len) = if curve == OID_P256 {
            (KeyFamily::P256, 65)
        } else if curve == OID_P384 {
            (KeyFamily::P384, 97)
        } else {
            return Err(TokenError::Der("EC curve is not P-256 or P-384"));
        };
        if key.len() != len || key.first() != Some(&4) {
            return Err(TokenError::Der("EC point is not uncompressed"));
        }
        return Ok(PublicKey::Ec {
            family,
            point: key.to_vec(),
        });
    }
    if oid == OID_ED25519 {
        if key.len() != 32 {
            return Err(TokenError::Der("Ed25519 key is not 32 bytes"));
        }
        return Ok(PublicKey::Ed25519 { x: key.to_vec() });
    }
    Err(TokenError::Der(
        "public key algorithm is not RSA, EC or Ed25519",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_and_garbage_inputs_are_errors() {
        assert!(parse_certificate(&[]).is_err());
        assert!(parse_certificate(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(parse_certificate(&[0x30, 0x03, 0x30, 0x01]).is_err());
        assert!(parse_certificate(&[0x1f, 0x00]).is_err());
    }
}
