//! The sources a tenant's logs are pulled from, their names in the output and the manifest,
//! and what the APIs document about how long they keep records and how late they show them.

use std::fmt;

use crate::CollectError;

/// One source of records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    /// Management Activity API content type `Audit.Exchange`.
    Exchange,
    /// `Audit.AzureActiveDirectory`.
    AzureActiveDirectory,
    /// `Audit.SharePoint`.
    SharePoint,
    /// `Audit.General`.
    General,
    /// `DLP.All` (only when asked: it needs the DLP permission).
    Dlp,
    /// Graph `/auditLogs/signIns` (interactive sign-ins, v1.0).
    SignIns,
    /// Graph `/auditLogs/signIns` filtered on `nonInteractiveUser` (beta: v1.0 returns the
    /// interactive ones only).
    NonInteractiveSignIns,
    /// Graph `/auditLogs/directoryAudits`.
    DirectoryAudits,
    /// Purview audit search, Graph `/security/auditLog/queries`: the Unified Audit Log beyond
    /// the Activity API's seven days.
    AuditLogQuery,
}

/// The API a source is read through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// Office 365 Management Activity API.
    Activity,
    /// Microsoft Graph list endpoints with `$filter` and `@odata.nextLink`.
    Graph,
    /// Microsoft Graph audit log queries (create, poll, page records).
    Purview,
}

/// Sources whose records share one identity space: a record seen through one is a duplicate
/// through another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Family {
    Ual,
    SignIns,
    DirectoryAudits,
}

impl Source {
    /// Every source.
    pub const ALL: [Source; 9] = [
        Source::Exchange,
        Source::AzureActiveDirectory,
        Source::SharePoint,
        Source::General,
        Source::Dlp,
        Source::SignIns,
        Source::NonInteractiveSignIns,
        Source::DirectoryAudits,
        Source::AuditLogQuery,
    ];

    /// The Activity API content types collected by default.
    pub const ACTIVITY: [Source; 4] = [
        Source::Exchange,
        Source::AzureActiveDirectory,
        Source::SharePoint,
        Source::General,
    ];

    /// The Graph lists collected by default.
    pub const GRAPH: [Source; 3] = [
        Source::SignIns,
        Source::NonInteractiveSignIns,
        Source::DirectoryAudits,
    ];

    /// The name used in output paths, the manifest and `--sources`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Source::Exchange => "Audit.Exchange",
            Source::AzureActiveDirectory => "Audit.AzureActiveDirectory",
            Source::SharePoint => "Audit.SharePoint",
            Source::General => "Audit.General",
            Source::Dlp => "DLP.All",
            Source::SignIns => "signIns",
            Source::NonInteractiveSignIns => "nonInteractiveSignIns",
            Source::DirectoryAudits => "directoryAudits",
            Source::AuditLogQuery => "auditLogQuery",
        }
    }

    /// The source of a name (any case).
    #[must_use]
    pub fn from_name(s: &str) -> Option<Source> {
        Source::ALL
            .into_iter()
            .find(|x| x.name().eq_ignore_ascii_case(s.trim()))
    }

    /// What a reader calls it.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Source::Exchange => "Exchange audit",
            Source::AzureActiveDirectory => "Entra ID audit (UAL)",
            Source::SharePoint => "SharePoint audit",
            Source::General => "General audit",
            Source::Dlp => "DLP events",
            Source::SignIns => "Entra sign-ins (interactive)",
            Source::NonInteractiveSignIns => "Entra sign-ins (non-interactive)",
            Source::DirectoryAudits => "Entra directory audit",
            Source::AuditLogQuery => "Unified Audit Log (Purview search)",
        }
    }

    /// The API it is read through.
    #[must_use]
    pub fn api(self) -> Api {
        match self {
            Source::Exchange
            | Source::AzureActiveDirectory
            | Source::SharePoint
            | Source::General
            | Source::Dlp => Api::Activity,
            Source::SignIns | Source::NonInteractiveSignIns | Source::DirectoryAudits => Api::Graph,
            Source::AuditLogQuery => Api::Purview,
        }
    }

    pub(crate) fn family(self) -> Family {
        match self {
            Source::SignIns | Source::NonInteractiveSignIns => Family::SignIns,
            Source::DirectoryAudits => Family::DirectoryAudits,
            _ => Family::Ual,
        }
    }

    /// Seconds after a window's end before its records can be taken as all there: windows
    /// ending later than this before the collection are `partial` and collected again by the
    /// next run. The Activity API lists content by the time it became available, so a past
    /// window is final; Entra logs arrive minutes late (non-interactive sign-ins up to half an
    /// hour); Purview search can lag a day.
    #[must_use]
    pub fn settle_secs(self) -> i64 {
        match self.api() {
            Api::Activity => 0,
            Api::Graph if self == Source::NonInteractiveSignIns => 1800,
            Api::Graph => 900,
            Api::Purview => 86_400,
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The sources asked for, from `--sources` or a tenants file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSelection {
    /// The sources, each once, in [`Source::ALL`] order.
    pub sources: Vec<Source>,
    /// The default selection: the Purview search is added for the part of the range older
    /// than the Activity API keeps, and only for that part.
    pub auto_query: bool,
}

impl Default for SourceSelection {
    fn default() -> Self {
        SourceSelection {
            sources: Source::ACTIVITY.into_iter().chain(Source::GRAPH).collect(),
            auto_query: true,
        }
    }
}

impl SourceSelection {
    /// Parse a comma-separated list of source names and groups: `default` (the four `Audit.*`
    /// content types, the three Graph lists, and the Purview search for what is older than the
    /// Activity API keeps), `activity`, `graph`, `all` (everything, Purview over the whole range
    /// and `DLP.All` included).
    ///
    /// # Errors
    /// [`CollectError::Invalid`] naming an unknown source.
    pub fn parse(list: &str) -> Result<Self, CollectError> {
        let mut set = std::collections::BTreeSet::new();
        let mut auto_query = false;
        for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part.to_ascii_lowercase().as_str() {
                "default" => {
                    set.extend(Source::ACTIVITY);
                    set.extend(Source::GRAPH);
                    auto_query = true;
                }
                "activity" => set.extend(Source::ACTIVITY),
                "graph" => set.extend(Source::GRAPH),
                "all" => set.extend(Source::ALL),
                _ => match Source::from_name(part) {
                    Some(s) => {
                        set.insert(s);
                    }
                    None => {
                        return Err(CollectError::Invalid(format!(
                            "unknown source {part:?}; known: default, activity, graph, all, {}",
                            Source::ALL.map(Source::name).join(", ")
                        )));
                    }
                },
            }
        }
        if set.is_empty() {
            return Err(CollectError::Invalid("no source selected".to_owned()));
        }
        // Asked for by name, the Purview search covers the whole range.
        if set.contains(&Source::AuditLogQuery) {
            auto_query = false;
        }
        Ok(SourceSelection {
            sources: set.into_iter().collect(),
            auto_query,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_groups_expand() {
        for s in Source::ALL {
            assert_eq!(Source::from_name(s.name()), Some(s));
        }
        let d = SourceSelection::parse("default").unwrap();
        assert_eq!(d, SourceSelection::default());
        assert!(!d.sources.contains(&Source::Dlp));
        let x = SourceSelection::parse("audit.exchange, signIns,DLP.All").unwrap();
        assert_eq!(
            x.sources,
            vec![Source::Exchange, Source::Dlp, Source::SignIns]
        );
        assert!(!x.auto_query);
        let all = SourceSelection::parse("all").unwrap();
        assert_eq!(all.sources.len(), 9);
        assert!(!all.auto_query);
        assert!(SourceSelection::parse("Audit.Nope").is_err());
        assert!(SourceSelection::parse(" , ").is_err());
    }
}
