//! The Sigma ruleset shipped inside the binary (`rules/`: SigmaHQ cloud and identity rules under
//! the Detection Rule License 1.1, and stormwatch's own mail-access rules).

include!(concat!(env!("OUT_DIR"), "/bundled_rules.rs"));

/// The bundled rules as (name, YAML text) pairs, names relative to `rules/`.
pub(crate) fn bundled_rules() -> Vec<(String, String)> {
    BUNDLED
        .iter()
        .map(|(name, text)| ((*name).to_owned(), (*text).to_owned()))
        .collect()
}
