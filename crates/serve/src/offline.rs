//! What the command line does to a data folder directly (the service may be running: the
//! store takes concurrent writers).

use std::path::Path;

use stormwatch_store::{ApiToken, DeadLetter, Store};

use crate::ServeError;
use crate::auth::Role;

fn open(dir: &Path) -> Result<Store, ServeError> {
    if !dir.join(stormwatch_store::DB_FILE_NAME).is_file() {
        return Err(ServeError::ConfigValue {
            key: "data_dir".into(),
            message: format!(
                "{} holds no stormwatch store (start serve there first)",
                dir.display()
            ),
        });
    }
    Ok(Store::open(dir)?)
}

/// Make an API token with `role` under `name`; returns the token (shown once).
///
/// # Errors
/// No store in `dir`, the name is taken, or the store fails.
pub fn add_token(dir: &Path, name: &str, role: Role) -> Result<String, ServeError> {
    crate::auth::add_token(&mut open(dir)?, name, role)
}

/// Every API token (without the tokens themselves).
///
/// # Errors
/// No store in `dir`, or it fails.
pub fn tokens(dir: &Path) -> Result<Vec<ApiToken>, ServeError> {
    Ok(open(dir)?.read().tokens()?)
}

/// Remove an API token; returns whether there was one by that name.
///
/// # Errors
/// No store in `dir`, or it fails.
pub fn remove_token(dir: &Path, name: &str) -> Result<bool, ServeError> {
    Ok(open(dir)?.write(|tx| tx.remove_token(name))?)
}

/// Dead letters of one sink or all.
///
/// # Errors
/// No store in `dir`, or it fails.
pub fn dead_letters(dir: &Path, sink: Option<&str>) -> Result<Vec<DeadLetter>, ServeError> {
    Ok(open(dir)?.read().dead_letters(sink, u32::MAX)?)
}

/// Put dead letters (of one sink or all) back in the outbox; the running service delivers
/// them (or the next start does). Returns how many.
///
/// # Errors
/// No store in `dir`, or it fails.
pub fn replay_dead_letters(dir: &Path, sink: Option<&str>) -> Result<usize, ServeError> {
    Ok(open(dir)?.write(|tx| tx.replay_dead_letters(sink))?)
}
