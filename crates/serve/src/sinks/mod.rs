//! Alert sinks: each one a task that delivers its outbox in order, retries with backoff, and
//! dead-letters what it cannot deliver. Delivery is at least once: a message is removed from
//! the outbox only after the sink took it; the alert id is its idempotency key.

mod file;
mod syslog;
mod webhook;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use stormwatch_store::{OutboxItem, Store};
use tokio::sync::{Notify, watch};

use crate::ServeError;
use crate::config::{SinkCommon, SinkConfig};
use crate::metrics::Metrics;

pub use webhook::signature;

/// Messages taken from the outbox at a time.
const BATCH: u32 = 100;
/// The outbox is looked at at least this often.
const POLL: Duration = Duration::from_secs(1);

/// Why a delivery failed.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) message: String,
    /// Retrying will not help (the receiver refused the message itself).
    pub(crate) permanent: bool,
    /// The receiver asked to wait this long.
    pub(crate) retry_after: Option<Duration>,
}

impl Failure {
    pub(crate) fn retry(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            permanent: false,
            retry_after: None,
        }
    }
}

/// One sink's way of delivering.
pub(crate) enum Sink {
    Webhook(webhook::Webhook),
    Syslog(syslog::Syslog),
    File(file::FileSink),
}

impl Sink {
    /// Set a sink up from its configuration.
    pub(crate) fn new(c: &SinkConfig) -> Result<Sink, ServeError> {
        Ok(match c {
            SinkConfig::Webhook {
                common,
                url,
                secret,
                headers,
            } => Sink::Webhook(webhook::Webhook::new(common, url, secret, headers)?),
            SinkConfig::Syslog {
                common: _,
                address,
                tcp,
                octet_counting,
                facility,
                app_name,
                hostname,
                max_message,
            } => Sink::Syslog(syslog::Syslog::new(syslog::Settings {
                address: address.clone(),
                tcp: *tcp,
                octet_counting: *octet_counting,
                facility: *facility,
                app_name: app_name.clone(),
                hostname: hostname.clone(),
                max_message: *max_message,
            })),
            SinkConfig::File { path, fsync, .. } => Sink::File(file::FileSink::new(path, *fsync)),
        })
    }

    async fn deliver(&mut self, item: &OutboxItem) -> Result<(), Failure> {
        match self {
            Sink::Webhook(w) => w.deliver(item).await,
            Sink::Syslog(s) => s.deliver(item).await,
            Sink::File(f) => f.deliver(item).await,
        }
    }
}

/// Wakes the sinks when the outbox has something new.
#[derive(Debug, Clone, Default)]
pub(crate) struct Wakers(pub(crate) Vec<Arc<Notify>>);

impl Wakers {
    pub(crate) fn wake_all(&self) {
        for n in &self.0 {
            n.notify_one();
        }
    }
}

/// The delay before attempt `attempts + 1`: doubling from `initial`, at most `max`, spread
/// by up to a fifth so that messages failed together are not all retried together.
pub(crate) fn backoff(common: &SinkCommon, attempts: u32, spread_seed: i64) -> Duration {
    let exp = attempts.saturating_sub(1).min(30);
    let base = common
        .backoff_initial
        .saturating_mul(1u32 << exp)
        .min(common.backoff_max);
    let spread = u64::try_from(spread_seed.rem_euclid(1000)).unwrap_or(0);
    base + base.mul_f64(spread as f64 / 5000.0)
}

fn now_ns() -> i64 {
    crate::now().nanos()
}

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

async fn with_store<T: Send + 'static>(
    store: &Arc<Mutex<Store>>,
    f: impl FnOnce(&mut Store) -> Result<T, stormwatch_store::StoreError> + Send + 'static,
) -> Result<T, ServeError> {
    let store = Arc::clone(store);
    tokio::task::spawn_blocking(move || {
        let mut s = store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut s)
    })
    .await
    .map_err(|_| ServeError::Stopped("sink's store access"))?
    .map_err(ServeError::from)
}

/// Run one sink until `shutdown` turns true.
pub(crate) async fn run(
    mut sink: Sink,
    common: SinkCommon,
    store: Store,
    metrics: Arc<Metrics>,
    wake: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    let store = Arc::new(Mutex::new(store));
    let name = common.name.clone();
    loop {
        if *shutdown.borrow() {
            return;
        }
        let n = name.clone();
        let due = match with_store(&store, move |s| s.read().due(&n, now_ns(), BATCH)).await {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(message = "Sink cannot read its outbox.", sink = %name, error = %e);
                Vec::new()
            }
        };
        if due.is_empty() {
            let n = name.clone();
            let next = with_store(&store, move |s| s.read().next_due(&n))
                .await
                .ok()
                .flatten();
            let wait = next.map_or(POLL, |t| {
                Duration::from_nanos(u64::try_from((t - now_ns()).max(0)).unwrap_or(0)).min(POLL)
            });
            tokio::select! {
                () = wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => {}
            }
            continue;
        }
        for item in due {
            if *shutdown.borrow() {
                return;
            }
            let outcome = match tokio::time::timeout(common.timeout, sink.deliver(&item)).await {
                Ok(r) => r,
                Err(_) => Err(Failure::retry(format!(
                    "no answer within {}",
                    humantime::format_duration(common.timeout)
                ))),
            };
            let result = match outcome {
                Ok(()) => {
                    metrics.count_sink(&name, |c| c.delivered += 1);
                    with_store(&store, move |s| s.write(|tx| tx.delivered(&item))).await
                }
                Err(f) => {
                    let attempts = item.attempts + 1;
                    if f.permanent || attempts >= common.max_attempts {
                        metrics.count_sink(&name, |c| c.dead += 1);
                        tracing::warn!(
                            message = "Sink gave up on a message; it is in the dead letters.",
                            sink = %name,
                            alert = %item.alert_id,
                            attempts,
                            error = %f.message
                        );
                        with_store(&store, move |s| {
                            s.write(|tx| tx.dead_letter(&item, &f.message))
                        })
                        .await
                    } else {
                        metrics.count_sink(&name, |c| c.failed += 1);
                        let delay = f.retry_after.map_or_else(
                            || backoff(&common, attempts, item.id),
                            |d| d.min(common.backoff_max),
                        );
                        tracing::debug!(
                            message = "Sink delivery failed; will retry.",
                            sink = %name,
                            alert = %item.alert_id,
                            attempts,
                            error = %f.message
                        );
                        let next_at = now_ns().saturating_add(nanos(delay));
                        with_store(&store, move |s| {
                            s.write(|tx| tx.attempt_failed(&item, &f.message, next_at))
                        })
                        .await
                    }
                }
            };
            if let Err(e) = result {
                tracing::error!(message = "Sink cannot update its outbox.", sink = %name, error = %e);
                tokio::time::sleep(POLL).await;
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_max() {
        let c = SinkCommon {
            name: "x".into(),
            min_level: stormwatch_core::Level::Low,
            withdrawals: true,
            max_attempts: 10,
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            timeout: Duration::from_secs(5),
        };
        assert_eq!(backoff(&c, 1, 0), Duration::from_secs(1));
        assert_eq!(backoff(&c, 3, 0), Duration::from_secs(4));
        assert_eq!(backoff(&c, 20, 0), Duration::from_secs(60));
        let spread = backoff(&c, 1, 999);
        assert!(spread > Duration::from_secs(1) && spread <= Duration::from_millis(1200));
    }
}
