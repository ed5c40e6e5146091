//! API tokens: made here (random, shown once), kept hashed in the store, checked on every
//! request but `/healthz`.

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use ring::rand::SecureRandom as _;
use sha2::{Digest as _, Sha256};
use stormwatch_store::Store;

use crate::ServeError;

/// The file (in the data folder) the first admin token is written to, mode 0600.
pub const ADMIN_TOKEN_FILE: &str = "admin.token";
/// The name the first admin token is stored under.
pub(crate) const ADMIN_TOKEN_NAME: &str = "admin";
/// Tokens start with this, so that they are recognisable in configuration and logs.
const PREFIX: &str = "sw_";

/// What a token may do. Each role may do what the ones before it may, except `ingest`, which
/// may only send records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// `POST /api/v1/ingest` only (collectors, forwarders).
    Ingest,
    /// Read alerts, incidents, sources and metrics.
    Viewer,
    /// And change status, add notes.
    Analyst,
    /// And everything else (flush, tokens, dead letters).
    Admin,
}

impl Role {
    /// Its name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Ingest => "ingest",
            Role::Viewer => "viewer",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
        }
    }

    /// May this role send records?
    #[must_use]
    pub fn may_ingest(self) -> bool {
        matches!(self, Role::Ingest | Role::Admin)
    }

    /// May this role read?
    #[must_use]
    pub fn may_read(self) -> bool {
        self >= Role::Viewer
    }

    /// May this role change alerts and incidents?
    #[must_use]
    pub fn may_triage(self) -> bool {
        self >= Role::Analyst
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ingest" => Ok(Role::Ingest),
            "viewer" => Ok(Role::Viewer),
            "analyst" => Ok(Role::Analyst),
            "admin" => Ok(Role::Admin),
            _ => Err(format!(
                "unknown role {s:?} (expected ingest, viewer, analyst or admin)"
            )),
        }
    }
}

/// Who a request acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's name.
    pub name: String,
    /// Its role.
    pub role: Role,
}

/// A new random token: `sw_` and 43 characters of base64url (256 bits).
///
/// # Errors
/// The system's random source fails.
pub(crate) fn new_token() -> Result<String, ServeError> {
    let mut bytes = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| ServeError::Io {
            what: "reading the system's random source".into(),
            source: std::io::Error::other("no randomness"),
        })?;
    let mut out = String::from(PREFIX);
    out.push_str(&base64url(&bytes));
    Ok(out)
}

fn base64url(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len() * 4 / 3 + 2);
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        let chars = c.len() + 1;
        for k in 0..chars {
            out.push(char::from(A[((n >> (18 - 6 * k)) & 63) as usize]));
        }
    }
    out
}

/// The hash a token is stored and looked up by. Tokens are 256 random bits: a plain SHA-256
/// is enough (a slow password hash protects guessable secrets, which these are not).
#[must_use]
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.trim().as_bytes()).into()
}

/// The token of a request's `Authorization: Bearer …` header.
#[must_use]
pub(crate) fn bearer(header: Option<&str>) -> Option<&str> {
    let h = header?.trim();
    let (scheme, token) = h.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty() && t.len() <= 256)
}

/// Make a token with `role` under `name`, store its hash, and return it (shown once).
///
/// # Errors
/// The name is taken or the store fails.
pub(crate) fn add_token(store: &mut Store, name: &str, role: Role) -> Result<String, ServeError> {
    let token = new_token()?;
    store.write(|tx| tx.add_token(name, role.as_str(), &token_hash(&token)))?;
    Ok(token)
}

/// The admin token made on first start, written to `DIR/admin.token` (mode 0600).
#[derive(Debug)]
pub struct FirstToken {
    /// The token.
    pub token: String,
    /// Where it was written.
    pub path: PathBuf,
}

/// On first start (no token stored), make the admin token and write it to
/// `data_dir/admin.token` with mode 0600. Returns it then, `None` on later starts.
///
/// # Errors
/// The file cannot be written or the store fails.
pub(crate) fn ensure_admin_token(
    store: &mut Store,
    data_dir: &Path,
) -> Result<Option<FirstToken>, ServeError> {
    if !store.read().tokens()?.is_empty() {
        return Ok(None);
    }
    let token = new_token()?;
    let path = data_dir.join(ADMIN_TOKEN_FILE);
    write_private(&path, &format!("{token}\n"))?;
    store.write(|tx| tx.add_token(ADMIN_TOKEN_NAME, Role::Admin.as_str(), &token_hash(&token)))?;
    Ok(Some(FirstToken { token, path }))
}

/// Write a file only its owner may read (created with mode 0600, replaced atomically).
fn write_private(path: &Path, text: &str) -> Result<(), ServeError> {
    let tmp = path.with_extension("token.tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts
        .open(&tmp)
        .map_err(ServeError::io(format!("creating {}", tmp.display())))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(ServeError::io(format!("writing {}", tmp.display())))?;
    std::fs::rename(&tmp, path).map_err(ServeError::io(format!("writing {}", path.display())))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn tokens_are_random_and_url_safe() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 3 + 43);
        assert!(
            a[3..]
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_ne!(token_hash(&a), token_hash(&b));
    }

    #[test]
    fn base64url_known_vectors() {
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(base64url(b"foo"), "Zm9v");
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn bearer_header() {
        assert_eq!(bearer(Some("Bearer abc")), Some("abc"));
        assert_eq!(bearer(Some("bearer   abc ")), Some("abc"));
        assert_eq!(bearer(Some("Basic abc")), None);
        assert_eq!(bearer(Some("Bearer ")), None);
        assert_eq!(bearer(None), None);
    }

    #[test]
    fn roles() {
        assert!(Role::Ingest.may_ingest() && !Role::Ingest.may_read());
        assert!(
            Role::Viewer.may_read() && !Role::Viewer.may_triage() && !Role::Viewer.may_ingest()
        );
        assert!(Role::Analyst.may_triage());
        assert!(Role::Admin.may_ingest() && Role::Admin.may_triage());
        assert_eq!("Analyst".parse::<Role>().unwrap(), Role::Analyst);
        assert!("root".parse::<Role>().is_err());
    }

    #[cfg(unix)]
    #[test]
    fn first_start_writes_a_private_admin_token_once() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let first = ensure_admin_token(&mut store, dir.path()).unwrap().unwrap();
        let meta = std::fs::metadata(&first.path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(
            std::fs::read_to_string(&first.path).unwrap().trim(),
            first.token
        );
        let t = store
            .read()
            .token_by_hash(&token_hash(&first.token))
            .unwrap()
            .unwrap();
        assert_eq!((t.name.as_str(), t.role.as_str()), ("admin", "admin"));
        assert!(
            ensure_admin_token(&mut store, dir.path())
                .unwrap()
                .is_none()
        );
    }
}
