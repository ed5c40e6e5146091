//! What one run is asked to do: tenants with their credentials and endpoints, the time range,
//! and the knobs of windows, retries and polling.

use std::path::PathBuf;
use std::time::Duration;

use stormwatch_core::Timestamp;

use crate::auth::CertificateKey;
use crate::cloud::Endpoints;
use crate::error::CollectError;
use crate::secret::Secret;
use crate::source::SourceSelection;

/// How an app proves who it is to Entra.
#[derive(Debug, Clone)]
pub enum Credential {
    /// A client secret.
    Secret(Secret),
    /// A certificate and its private key: a signed client assertion (RS256).
    Certificate(std::sync::Arc<CertificateKey>),
}

/// One tenant to collect.
#[derive(Debug, Clone)]
pub struct TenantSpec {
    /// The directory (tenant) id, a lower-case GUID.
    pub tenant: String,
    /// A label for people (from a tenants file).
    pub name: Option<String>,
    /// The application (client) id of the app registration.
    pub client_id: String,
    /// Its credential.
    pub credential: Credential,
    /// Where to reach Microsoft.
    pub endpoints: Endpoints,
    /// The `PublisherIdentifier` sent to the Activity API (the publisher's tenant GUID; by
    /// default the collected tenant's, which is right for a tenant collecting its own logs).
    pub publisher_id: String,
    /// The sources to collect.
    pub sources: SourceSelection,
}

/// A checked tenant id: a GUID, lower-cased. It becomes a URL path segment and a folder name,
/// so nothing else is accepted.
///
/// # Errors
/// [`CollectError::Tenant`].
pub fn tenant_id(s: &str) -> Result<String, CollectError> {
    let t = s.trim();
    if is_guid(t) {
        Ok(t.to_ascii_lowercase())
    } else {
        Err(CollectError::Tenant(s.to_owned()))
    }
}

pub(crate) fn is_guid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Retries and waits of every request.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Retries after a 5xx, a timeout or a broken connection.
    pub max_retries: u32,
    /// Waits after a 429 (or the Activity API's AF429) before giving up.
    pub max_throttled: u32,
    /// First backoff delay (doubled per retry, with jitter).
    pub base_delay: Duration,
    /// Longest backoff delay.
    pub max_delay: Duration,
    /// Longest wait a `Retry-After` is honoured for (longer ones are cut to this).
    pub max_retry_after: Duration,
    /// Timeout of one request.
    pub request_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 6,
            max_throttled: 30,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(600),
            request_timeout: Duration::from_secs(120),
        }
    }
}

/// Polling of Purview audit queries.
#[derive(Debug, Clone)]
pub struct PollPolicy {
    /// First wait between status checks (doubled up to `max`).
    pub first: Duration,
    /// Longest wait between status checks.
    pub max: Duration,
    /// Give up on a query still running after this long (the query is kept: the next run
    /// polls it again instead of starting a new one).
    pub timeout: Duration,
    /// Queries in flight per tenant.
    pub concurrent: usize,
}

impl Default for PollPolicy {
    fn default() -> Self {
        PollPolicy {
            first: Duration::from_secs(5),
            max: Duration::from_secs(60),
            timeout: Duration::from_secs(30 * 60),
            concurrent: 4,
        }
    }
}

/// Everything one run of `collect` needs.
#[derive(Debug, Clone)]
pub struct CollectOptions {
    /// The output folder.
    pub out: PathBuf,
    /// Start of the range (inclusive).
    pub since: Timestamp,
    /// End of the range (exclusive); the time of the run when absent.
    pub until: Option<Timestamp>,
    /// The tenants.
    pub tenants: Vec<TenantSpec>,
    /// Length of a window of the Activity API and the Graph lists, in seconds (at most one
    /// day: the Activity API lists at most 24 hours per request). Windows are aligned on
    /// multiples of it since the Unix epoch, so runs resume on the same windows.
    pub window_secs: i64,
    /// Length of a Purview search window, in seconds.
    pub query_window_secs: i64,
    /// Requests in flight at once, over all tenants.
    pub concurrency: usize,
    /// Retries and waits.
    pub retry: RetryPolicy,
    /// Purview query polling.
    pub poll: PollPolicy,
    /// Purview `recordTypeFilters` (empty: every record type).
    pub record_types: Vec<String>,
    /// Largest response body accepted, in bytes.
    pub max_response_bytes: usize,
    /// Draw progress bars on standard error (when it is a terminal).
    pub progress: bool,
    /// Replace each source's settle time (testing).
    pub settle_secs: Option<i64>,
}

impl CollectOptions {
    /// Options with the defaults for everything but the folder, the start and the tenants.
    #[must_use]
    pub fn new(out: PathBuf, since: Timestamp, tenants: Vec<TenantSpec>) -> Self {
        CollectOptions {
            out,
            since,
            until: None,
            tenants,
            window_secs: 3600,
            query_window_secs: 86_400,
            concurrency: 8,
            retry: RetryPolicy::default(),
            poll: PollPolicy::default(),
            record_types: Vec::new(),
            max_response_bytes: 512 << 20,
            progress: false,
            settle_secs: None,
        }
    }
}

/// Parse a duration: a number followed by `s`, `m`, `h` or `d` (`90d`, `1h`, `30m`).
///
/// # Errors
/// [`CollectError::Invalid`].
pub fn parse_duration(s: &str) -> Result<i64, CollectError> {
    let t = s.trim();
    let bad = || {
        CollectError::Invalid(format!(
            "{s:?} is not a duration: a number and s, m, h or d (30m, 1h, 7d)"
        ))
    };
    let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?);
    let n: i64 = num.parse().map_err(|_| bad())?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(mult).filter(|v| *v > 0).ok_or_else(bad)
}

/// Parse a time argument: a timestamp or date, or a duration before `now` (`7d`).
///
/// # Errors
/// [`CollectError::Invalid`].
pub fn parse_time(s: &str, now: Timestamp) -> Result<Timestamp, CollectError> {
    if let Ok(d) = parse_duration(s) {
        return Ok(now.add_seconds(-d));
    }
    Timestamp::parse(s).map_err(|e| {
        CollectError::Invalid(format!(
            "{s:?} is neither a time (2023-06-03, 2023-06-03T10:00:00Z) nor a duration before now (7d): {e}"
        ))
    })
}

/// The current time.
#[must_use]
pub fn now() -> Timestamp {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    Timestamp::from_nanos(nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_times() {
        assert_eq!(parse_duration("90d").unwrap(), 90 * 86_400);
        assert_eq!(parse_duration("30m").unwrap(), 1800);
        for bad in ["", "h", "5", "5w", "-1h", "0h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        let now = Timestamp::parse("2023-06-10T00:00:00Z").unwrap();
        assert_eq!(
            parse_time("7d", now).unwrap().to_string(),
            "2023-06-03T00:00:00Z"
        );
        assert_eq!(
            parse_time("2023-06-03", now).unwrap().to_string(),
            "2023-06-03T00:00:00Z"
        );
        assert!(parse_time("yesterday", now).is_err());
    }

    #[test]
    fn tenants_are_guids() {
        assert_eq!(
            tenant_id("41463F53-8812-40F4-890F-865BF6E35190").unwrap(),
            "41463f53-8812-40f4-890f-865bf6e35190"
        );
        for bad in [
            "contoso.onmicrosoft.com",
            "../etc",
            "41463f53881240f4890f865bf6e35190",
        ] {
            assert!(tenant_id(bad).is_err(), "{bad}");
        }
    }
}
