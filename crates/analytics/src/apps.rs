//! Microsoft's first-party application list, shipped with stormwatch.

use std::collections::HashMap;

/// The bundled `MicrosoftApps.csv` (merill/microsoft-info, MIT; see `data/README.md`).
const MICROSOFT_APPS_CSV: &str = include_str!("../data/MicrosoftApps.csv");

/// Application ids → names, with first-party status.
#[derive(Debug, Clone, Default)]
pub struct AppCatalog {
    names: HashMap<String, String>,
}

impl AppCatalog {
    /// Microsoft's first-party apps from the bundled list.
    #[must_use]
    pub fn builtin() -> Self {
        let mut c = AppCatalog::default();
        let mut rdr = csv::ReaderBuilder::new()
            .flexible(true)
            .from_reader(MICROSOFT_APPS_CSV.as_bytes());
        for rec in rdr.records().flatten() {
            if let (Some(id), Some(name)) = (rec.get(0), rec.get(1)) {
                c.insert(id, name);
            }
        }
        c
    }

    /// An empty catalogue (every app is third-party and unnamed).
    #[must_use]
    pub fn empty() -> Self {
        AppCatalog::default()
    }

    /// Add or rename an app (treated as first-party).
    pub fn insert(&mut self, app_id: &str, name: &str) {
        let id = app_id.trim().to_ascii_lowercase();
        if !id.is_empty() {
            self.names.insert(id, name.trim().to_owned());
        }
    }

    /// The app's display name, when known.
    #[must_use]
    pub fn name(&self, app_id: &str) -> Option<&str> {
        self.names
            .get(app_id.trim().to_ascii_lowercase().as_str())
            .map(String::as_str)
    }

    /// Is this one of Microsoft's own applications?
    #[must_use]
    pub fn is_first_party(&self, app_id: &str) -> bool {
        self.name(app_id).is_some()
    }

    /// Number of known apps.
    #[must_use]
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// No apps known.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_list_names_first_party_apps() {
        let c = AppCatalog::builtin();
        assert!(c.len() > 4000, "{}", c.len());
        assert_eq!(
            c.name("00000003-0000-0000-C000-000000000000"),
            Some("Microsoft Graph")
        );
        assert_eq!(
            c.name("00000002-0000-0ff1-ce00-000000000000"),
            Some("Office 365 Exchange Online")
        );
        assert!(c.is_first_party("5d661950-3475-41cd-a2c3-d671a3162bc1"));
        // The OTRF sample's attacker app is not Microsoft's.
        assert!(!c.is_first_party("5a95e683-08ad-424e-a441-1d1aec52c02c"));
    }
}
