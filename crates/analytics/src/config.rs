//! Thresholds and baseline lengths, read from a TOML file.
//!
//! Every key is optional; an absent key keeps its documented default, an unknown key is an
//! error (so a typo never silently keeps a default).
//!
//! ```toml
//! baseline_days = 30
//! watchlist = ["ceo@example.org"]
//!
//! [breadth]
//! window_mailboxes = 8
//! ```

use serde::{Deserialize, Serialize};

use crate::error::AnalyticsError;

macro_rules! section {
    ($(#[$m:meta])* $name:ident { $($(#[$fm:meta])* $field:ident : $ty:ty = $def:expr),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct $name {
            /// Run this analytic (default true).
            pub enabled: bool,
            $($(#[$fm])* pub $field: $ty,)*
        }
        impl Default for $name {
            fn default() -> Self {
                $name { enabled: true, $($field: $def,)* }
            }
        }
    };
}

section!(
    /// `[new_mail_app]`: analytic 1.
    NewMailAppConfig {
        /// Lower the level one step when at least this fraction of the active mailboxes start
        /// using the same app within `adoption_hours` (a rollout).
        adoption_fraction: f64 = 0.2,
        /// The adoption window, in hours.
        adoption_hours: u32 = 24,
        /// …and at least this many mailboxes adopted it.
        adoption_min_mailboxes: u32 = 5,
    }
);

section!(
    /// `[no_sign_in]`: analytic 2.
    NoSignInConfig {
        /// A sign-in with the record's SessionId within this many hours before counts as backing.
        session_lookback_hours: u32 = 24,
        /// When the input has no non-interactive sign-ins, a session is backed by any sign-in
        /// with its id within this many days before (sessions outlive refreshes).
        session_max_age_days: u32 = 30,
        /// A sign-in with the record's UniqueTokenId within this many hours before counts.
        token_lookback_hours: u32 = 2,
        /// Weaker evidence: the user signed in from the record's IP within ± this many hours.
        ip_window_hours: u32 = 6,
    }
);

section!(
    /// `[forged_token]`: analytic 3.
    ForgedTokenConfig {
        /// The consumer (MSA) tenant id; tokens of this tenant at enterprise APIs are forged.
        consumer_tenant: String = crate::CONSUMER_TENANT.to_owned(),
    }
);

section!(
    /// `[ioc]`: analytic 4.
    IocConfig {
        /// Matches within this many days outside an indicator's window still count (medium
        /// instead of critical); further out they are informational.
        margin_days: u32 = 7,
    }
);

section!(
    /// `[watchlist_new_context]`: analytic 5 (the mailboxes are `watchlist` at top level and
    /// `--watchlist`).
    WatchlistConfig {}
);

section!(
    /// `[asn]`: analytic 6.
    AsnConfig {
        /// An ASN not seen for the mailbox in this many days before is new.
        baseline_days: u32 = 30,
        /// ASN organisation names containing one of these (case-insensitive) are hosting / VPN.
        hosting_keywords: Vec<String> = default_hosting_keywords(),
    }
);

section!(
    /// `[breadth]`: analytic 7.
    BreadthConfig {
        /// Short window, in minutes.
        window_minutes: u32 = 10,
        /// Mailboxes read by one session / IP / app within the short window.
        window_mailboxes: u32 = 5,
        /// Mailboxes read by one session / IP / app within 24 hours.
        day_mailboxes: u32 = 3,
    }
);

section!(
    /// `[bulk_bind]`: analytic 8.
    BulkBindConfig {
        /// An hour's Σ OperationCount above the mailbox's mean + `sigma` × standard deviation.
        sigma: f64 = 3.0,
        /// …and at least this many operations in the hour.
        min_hour_operations: u64 = 50,
        /// Hours of history a mailbox needs before its norm is used.
        min_history_hours: u32 = 24,
        /// One record with at least this OperationCount.
        single_record_operations: u64 = 100,
    }
);

section!(
    /// `[sync_new_context]`: analytic 9.
    SyncNewContextConfig {}
);

section!(
    /// `[scripted_rest]`: analytic 10.
    ScriptedRestConfig {
        /// Client strings that mark a scripted client (case-insensitive substrings; a pattern
        /// starting with `^` must match at the start).
        patterns: Vec<String> = default_script_patterns(),
    }
);

section!(
    /// `[concurrent_sessions]`: analytic 11.
    ConcurrentSessionsConfig {
        /// Two sessions of the same mailbox on different networks within this many minutes.
        window_minutes: u32 = 30,
    }
);

section!(
    /// `[owa_token]`: analytic 12.
    OwaTokenConfig {
        /// OWA token issuances (RecordType 275) per user and hour that make a burst.
        burst_per_hour: u32 = 20,
    }
);

section!(
    /// `[visibility]`: analytic 13.
    VisibilityConfig {
        /// Exchange records a mailbox needs, with no MailItemsAccessed at all, to be reported as
        /// not audited.
        min_exchange_records: u64 = 20,
        /// Days without any record inside the input's span reported as a gap.
        min_gap_days: u32 = 1,
    }
);

section!(
    /// `[actor_hours]`: analytic 14 (a modifier: raises scores, never fires alone).
    ActorHoursConfig {
        /// Only Monday to Friday.
        weekdays_only: bool = true,
        /// First hour of the actor window (UTC, inclusive).
        start_hour: u32 = 0,
        /// End of the actor window (UTC, exclusive).
        end_hour: u32 = 9,
        /// The user's norm: at most this fraction of their own baseline activity in the window.
        norm_fraction: f64 = 0.2,
    }
);

/// Thresholds and baseline lengths of every analytic. `Default` is the documented defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnalyticsConfig {
    /// Baseline length: a value not seen for the mailbox in this many days before is new.
    pub baseline_days: u32,
    /// With less history than this before a record (input plus saved baseline), first-party
    /// "new" values are not reported and third-party ones are reported low.
    pub learning_days: u32,
    /// Records kept per context for the `events` of detections (earliest first); the rest are
    /// counted.
    pub max_events_per_context: usize,
    /// At most this many `events` in one detection; the rest are counted in its evidence.
    pub max_events_per_detection: usize,
    /// Saved baseline entries not seen for this many days are dropped.
    pub snapshot_retention_days: u32,
    /// High-value mailboxes (analytic 5), added to `--watchlist`.
    pub watchlist: Vec<String>,
    /// Analytic 1.
    pub new_mail_app: NewMailAppConfig,
    /// Analytic 2.
    pub no_sign_in: NoSignInConfig,
    /// Analytic 3.
    pub forged_token: ForgedTokenConfig,
    /// Analytic 4.
    pub ioc: IocConfig,
    /// Analytic 5.
    pub watchlist_new_context: WatchlistConfig,
    /// Analytic 6.
    pub asn: AsnConfig,
    /// Analytic 7.
    pub breadth: BreadthConfig,
    /// Analytic 8.
    pub bulk_bind: BulkBindConfig,
    /// Analytic 9.
    pub sync_new_context: SyncNewContextConfig,
    /// Analytic 10.
    pub scripted_rest: ScriptedRestConfig,
    /// Analytic 11.
    pub concurrent_sessions: ConcurrentSessionsConfig,
    /// Analytic 12.
    pub owa_token: OwaTokenConfig,
    /// Analytic 13.
    pub visibility: VisibilityConfig,
    /// Analytic 14.
    pub actor_hours: ActorHoursConfig,
}

impl Default for AnalyticsConfig {
    fn default() -> Self {
        AnalyticsConfig {
            baseline_days: 14,
            learning_days: 7,
            max_events_per_context: 5_000,
            max_events_per_detection: 20_000,
            snapshot_retention_days: 90,
            watchlist: Vec::new(),
            new_mail_app: NewMailAppConfig::default(),
            no_sign_in: NoSignInConfig::default(),
            forged_token: ForgedTokenConfig::default(),
            ioc: IocConfig::default(),
            watchlist_new_context: WatchlistConfig::default(),
            asn: AsnConfig::default(),
            breadth: BreadthConfig::default(),
            bulk_bind: BulkBindConfig::default(),
            sync_new_context: SyncNewContextConfig::default(),
            scripted_rest: ScriptedRestConfig::default(),
            concurrent_sessions: ConcurrentSessionsConfig::default(),
            owa_token: OwaTokenConfig::default(),
            visibility: VisibilityConfig::default(),
            actor_hours: ActorHoursConfig::default(),
        }
    }
}

impl AnalyticsConfig {
    /// Parse a TOML configuration and check its ranges.
    ///
    /// # Errors
    /// [`AnalyticsError::Config`] for invalid TOML, unknown keys or wrong types;
    /// [`AnalyticsError::ConfigValue`] for out-of-range values.
    pub fn from_toml_str(s: &str) -> Result<Self, AnalyticsError> {
        let c: AnalyticsConfig = toml::from_str(s)?;
        c.validate()?;
        Ok(c)
    }

    /// Check value ranges.
    ///
    /// # Errors
    /// [`AnalyticsError::ConfigValue`] naming the first bad setting.
    pub fn validate(&self) -> Result<(), AnalyticsError> {
        let bad = |key: &'static str, reason: &str| {
            Err(AnalyticsError::ConfigValue {
                key,
                reason: reason.to_owned(),
            })
        };
        if self.baseline_days == 0 {
            return bad("baseline_days", "must be at least 1");
        }
        if self.max_events_per_context == 0 || self.max_events_per_detection == 0 {
            return bad("max_events_per_context", "event caps must be at least 1");
        }
        let f = self.new_mail_app.adoption_fraction;
        if !(0.0..=1.0).contains(&f) {
            return bad("new_mail_app.adoption_fraction", "must be between 0 and 1");
        }
        if !self.bulk_bind.sigma.is_finite() || self.bulk_bind.sigma < 0.0 {
            return bad("bulk_bind.sigma", "must be a non-negative number");
        }
        let h = &self.actor_hours;
        if h.start_hour > 23 || h.end_hour > 24 || h.start_hour >= h.end_hour {
            return bad("actor_hours", "need 0 <= start_hour < end_hour <= 24");
        }
        if !(0.0..=1.0).contains(&h.norm_fraction) {
            return bad("actor_hours.norm_fraction", "must be between 0 and 1");
        }
        if self.breadth.window_minutes == 0 || self.breadth.window_minutes > 60 {
            return bad("breadth.window_minutes", "must be between 1 and 60");
        }
        if self.concurrent_sessions.window_minutes == 0 {
            return bad("concurrent_sessions.window_minutes", "must be at least 1");
        }
        Ok(())
    }
}

fn default_hosting_keywords() -> Vec<String> {
    [
        "hosting",
        "hetzner",
        "ovh",
        "digitalocean",
        "linode",
        "akamai connected cloud",
        "vultr",
        "choopa",
        "leaseweb",
        "contabo",
        "m247",
        "datacamp",
        "psychz",
        "servers.com",
        "scaleway",
        "hostinger",
        "colocrossing",
        "quadranet",
        "frantech",
        "buyvm",
        "ionos",
        "aeza",
        "vpn",
        "mullvad",
        "proton",
        "nord",
        "private layer",
        "tor exit",
        "amazon",
        "google cloud",
        "alibaba",
        "tencent",
        "oracle",
        "cloudflare",
        "zenlayer",
        "g-core",
        "stark industries",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

fn default_script_patterns() -> Vec<String> {
    [
        "^client=rest",
        "python",
        "powershell",
        "curl/",
        "wget/",
        "go-http-client",
        "okhttp",
        "axios/",
        "node-fetch",
        "libwww-perl",
        "java/",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let c = AnalyticsConfig::from_toml_str("").unwrap_or_default();
        assert_eq!(c, AnalyticsConfig::default());
        let c = AnalyticsConfig::from_toml_str(
            "baseline_days = 30\nwatchlist = [\"ceo@x.org\"]\n[breadth]\nwindow_mailboxes = 8\n",
        );
        let c = c.unwrap_or_default();
        assert_eq!(c.baseline_days, 30);
        assert_eq!(c.breadth.window_mailboxes, 8);
        assert_eq!(c.breadth.day_mailboxes, 3);
        assert_eq!(c.watchlist, vec!["ceo@x.org".to_owned()]);
    }

    #[test]
    fn unknown_keys_and_bad_ranges_fail() {
        assert!(matches!(
            AnalyticsConfig::from_toml_str("baseline_dayz = 3"),
            Err(AnalyticsError::Config(_))
        ));
        assert!(AnalyticsConfig::from_toml_str("[breadth]\nwindow = 3").is_err());
        assert!(matches!(
            AnalyticsConfig::from_toml_str("[actor_hours]\nstart_hour = 10\nend_hour = 9"),
            Err(AnalyticsError::ConfigValue { .. })
        ));
        assert!(AnalyticsConfig::from_toml_str("baseline_days = \"x\"").is_err());
    }
}
