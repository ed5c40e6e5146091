//! The dashboard's user accounts: roles as API tokens have them (viewer, analyst, admin),
//! passwords kept as Argon2id hashes (PHC strings), managed from the command line
//! (`stormwatch serve users add/list/remove`) while the service runs or before its first start.

use std::path::Path;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use ring::rand::SecureRandom as _;
use stormwatch_store::{Store, User};

use crate::ServeError;
use crate::auth::Role;

/// Shortest password accepted.
pub const MIN_PASSWORD: usize = 12;
/// Longest password accepted (hashing cost stays bounded).
pub const MAX_PASSWORD: usize = 1024;

/// A hash checked when the user does not exist, so that a login for an unknown name costs as
/// much as one for a known name.
const DECOY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c3Rvcm13YXRjaGRlY295$1kUQ2sMVvVI3H1UrFjbbm3oWqqCq7Tc2yt6pi4V0a0U";

fn random(bytes: &mut [u8]) -> Result<(), ServeError> {
    ring::rand::SystemRandom::new()
        .fill(bytes)
        .map_err(|_| ServeError::Io {
            what: "reading the system's random source".into(),
            source: std::io::Error::other("no randomness"),
        })
}

/// An Argon2id hash (the crate's defaults: 19 MiB, 2 passes, 1 lane: OWASP's minimum) of
/// `password` with a random salt, as a PHC string.
///
/// # Errors
/// The password's length is out of bounds, or no randomness.
pub fn hash_password(password: &str) -> Result<String, ServeError> {
    let n = password.chars().count();
    if n < MIN_PASSWORD || password.len() > MAX_PASSWORD {
        return Err(ServeError::ConfigValue {
            key: "password".into(),
            message: format!("a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters"),
        });
    }
    let mut salt = [0u8; 16];
    random(&mut salt)?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| ServeError::ConfigValue {
        key: "password".into(),
        message: format!("salt: {e}"),
    })?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ServeError::ConfigValue {
            key: "password".into(),
            message: format!("hashing: {e}"),
        })
}

/// Does `password` match the PHC string `hash`? A malformed hash matches nothing.
#[must_use]
pub(crate) fn password_matches(password: &str, hash: &str) -> bool {
    if password.len() > MAX_PASSWORD {
        return false;
    }
    PasswordHash::new(hash).is_ok_and(|h| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// Check a login: the user's role when the password is theirs. Costs one Argon2 verification
/// whether or not the user exists.
///
/// # Errors
/// The store fails.
pub(crate) fn check_login(
    store: &Store,
    name: &str,
    password: &str,
) -> Result<Option<Role>, ServeError> {
    let found = store.read().user_with_hash(name)?;
    let Some((user, hash)) = found else {
        let _ = password_matches(password, DECOY_HASH);
        return Ok(None);
    };
    if !password_matches(password, &hash) {
        return Ok(None);
    }
    let role: Option<Role> = user.role.parse().ok().filter(|r| *r != Role::Ingest);
    if role.is_some() {
        store.read().note_login(name)?;
    }
    Ok(role)
}

/// The roles a person may have.
fn person_role(role: Role) -> Result<Role, ServeError> {
    if role == Role::Ingest {
        return Err(ServeError::ConfigValue {
            key: "role".into(),
            message: "a user is a viewer, an analyst or an admin (ingest is for API tokens)".into(),
        });
    }
    Ok(role)
}

/// Add a user with `role` and `password` to the data folder's store (created if needed).
///
/// # Errors
/// The role is `ingest`, the password's length is out of bounds, the name is taken or
/// invalid, or the store fails.
pub fn add_user(dir: &Path, name: &str, role: Role, password: &str) -> Result<(), ServeError> {
    let role = person_role(role)?;
    let hash = hash_password(password)?;
    let mut store = Store::open(dir)?;
    store.write(|tx| tx.add_user(name, role.as_str(), &hash))?;
    Ok(())
}

/// Every user of the data folder's store.
///
/// # Errors
/// The store fails.
pub fn users(dir: &Path) -> Result<Vec<User>, ServeError> {
    Ok(Store::open(dir)?.read().users()?)
}

/// Remove a user (their sessions end); returns whether there was one by that name.
///
/// # Errors
/// The store fails.
pub fn remove_user(dir: &Path, name: &str) -> Result<bool, ServeError> {
    let mut store = Store::open(dir)?;
    Ok(store.write(|tx| tx.remove_user(name))?)
}

/// A random password for `users add --generate`: 24 characters of base64url (144 bits).
///
/// # Errors
/// No randomness.
pub fn generate_password() -> Result<String, ServeError> {
    Ok(secret()?.chars().take(24).collect())
}

/// A random secret of 256 bits, base64url.
///
/// # Errors
/// No randomness.
pub(crate) fn secret() -> Result<String, ServeError> {
    crate::auth::new_token().map(|t| t.trim_start_matches("sw_").to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn hashes_verify_and_are_salted() {
        let a = hash_password("correct horse battery").unwrap();
        let b = hash_password("correct horse battery").unwrap();
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b, "a random salt each time");
        assert!(password_matches("correct horse battery", &a));
        assert!(!password_matches("correct horse batterx", &a));
        assert!(!password_matches("correct horse battery", "not a hash"));
        assert!(hash_password("short").is_err());
    }

    #[test]
    fn decoy_hash_parses() {
        assert!(PasswordHash::new(DECOY_HASH).is_ok());
    }

    #[test]
    fn users_add_list_remove_and_login() {
        let dir = tempfile::tempdir().unwrap();
        add_user(dir.path(), "alice", Role::Analyst, "a long enough password").unwrap();
        assert!(add_user(dir.path(), "alice", Role::Viewer, "another long password").is_err());
        assert!(add_user(dir.path(), "bob", Role::Ingest, "a long enough password").is_err());
        let list = users(dir.path()).unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(
            (list[0].name.as_str(), list[0].role.as_str()),
            ("alice", "analyst")
        );
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(
            check_login(&store, "alice", "a long enough password").unwrap(),
            Some(Role::Analyst)
        );
        assert_eq!(
            check_login(&store, "alice", "wrong password!!").unwrap(),
            None
        );
        assert_eq!(
            check_login(&store, "mallory", "a long enough password").unwrap(),
            None
        );
        assert!(remove_user(dir.path(), "alice").unwrap());
        assert!(!remove_user(dir.path(), "alice").unwrap());
        assert_eq!(
            check_login(&store, "alice", "a long enough password").unwrap(),
            None
        );
    }
}
