//! The errors of this crate: [`CollectError`] for what stops a run or a setting, [`ApiError`]
//! for one failed exchange with an API (recorded in the manifest, never fatal to the run).

use std::path::PathBuf;

/// What stops `collect` before or outside the collection of windows: a setting that cannot
/// work, an output folder that cannot be written, a corrupt state file. Failures of the APIs
/// are not errors of the run: they are recorded per window in the manifest.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// A URL option that cannot be used.
    #[error("{flag} {value}: {reason}")]
    Url {
        /// The option (`--manage-url`, `manage_url`, ...).
        flag: String,
        /// The value given.
        value: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// A tenant that is not a directory (tenant) id.
    #[error("tenant {0:?}: not a directory (tenant) id; give the tenant's GUID")]
    Tenant(String),
    /// The environment variable that should hold the client secret is not set.
    #[error("environment variable {0} (the client secret) is not set or is empty")]
    SecretEnv(String),
    /// A certificate credential that cannot be used.
    #[error("certificate {path}: {reason}")]
    Certificate {
        /// The PEM file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A tenants file that cannot be used.
    #[error("{path}: {reason}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Any other option that cannot be used.
    #[error("{0}")]
    Invalid(String),
    /// Reading or writing a file of the output folder.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The collection state of the output folder is damaged beyond the torn last line a kill
    /// can leave.
    #[error("{path}:{line}: {reason}")]
    State {
        /// The state file.
        path: PathBuf,
        /// The 1-based line.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// Another `collect` is writing into the same folder.
    #[error("{0}: another stormwatch collect is writing into this folder")]
    Locked(PathBuf),
    /// The HTTP client could not be built.
    #[error("starting the HTTP client: {0}")]
    Client(String),
    /// The async runtime could not be started.
    #[error("starting the runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

impl CollectError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        CollectError::Io {
            path: path.into(),
            source,
        }
    }
}

/// One exchange with an API that did not give what was asked. Its text goes into the manifest
/// (secrets removed before it is made).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// An HTTP error status, with the error code and message of the body when it has them
    /// (`{"error":{"code":"AF10001","message":"..."}}` for the Activity API and Graph).
    #[error("HTTP {status}{}{}", code.as_deref().map(|c| format!(" {c}")).unwrap_or_default(), message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Http {
        /// The status code.
        status: u16,
        /// The error code of the body.
        code: Option<String>,
        /// The error message of the body.
        message: Option<String>,
    },
    /// The token endpoint refused the credentials.
    #[error("authentication failed (HTTP {status} {error}){}", if description.is_empty() { String::new() } else { format!(": {description}") })]
    Auth {
        /// The status code.
        status: u16,
        /// The OAuth error (`invalid_client`, ...).
        error: String,
        /// Entra's description (`AADSTS7000215: ...`).
        description: String,
    },
    /// No response (connection, TLS, timeout).
    #[error("no response: {0}")]
    Transport(String),
    /// Still throttled after the allowed number of waits.
    #[error("still throttled (HTTP {status}) after {waits} waits")]
    Throttled {
        /// The last status (429, or 403 with AF429).
        status: u16,
        /// Waits made.
        waits: u32,
    },
    /// A response larger than the limit.
    #[error("response larger than {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// A response that does not follow the documented shape.
    #[error("unexpected response: {0}")]
    Invalid(String),
    /// A link (next page, content URI) to somewhere the credentials must not go.
    #[error("refused to follow {0}")]
    Link(String),
    /// The API does not exist where it was asked for.
    #[error("{0}")]
    Unavailable(String),
}

impl ApiError {
    /// The error code of an HTTP error body, if any (`AF20051`, `Authorization_RequestDenied`).
    #[must_use]
    pub fn code(&self) -> Option<&str> {
        match self {
            ApiError::Http { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    /// The HTTP status, if the error had one.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Http { status, .. }
            | ApiError::Auth { status, .. }
            | ApiError::Throttled { status, .. } => Some(*status),
            _ => None,
        }
    }
}
