//! Log source names for `stormwatch rules test --source`.

use stormwatch_core::SourceKind;

/// Parse a `--source` value.
pub(crate) fn parse_source(s: &str) -> Result<SourceKind, String> {
    let all = [
        SourceKind::Ual,
        SourceKind::SentinelOfficeActivity,
        SourceKind::DefenderCloudAppEvents,
        SourceKind::EntraSignIn,
        SourceKind::EntraAudit,
        SourceKind::WindowsEvent,
        SourceKind::Generic,
    ];
    all.into_iter().find(|k| k.as_str() == s).ok_or_else(|| {
        let names: Vec<&str> = all.iter().map(|k| k.as_str()).collect();
        format!("unknown source {s:?}; one of {}", names.join(", "))
    })
}
