//! The public API the binary relies on.

use stormwatch_analytics::{Analytics, AnalyticsConfig, AppCatalog, IocSet};
use stormwatch_core::Level;

#[test]
fn list_has_fourteen_analytics_with_docs_pages() {
    let list = Analytics::list();
    assert_eq!(list.len(), 14);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for a in &list {
        assert!(a.id.starts_with("builtin/"));
        assert!(!a.settings.is_empty(), "{}", a.id);
        assert!(root.join(&a.docs).is_file(), "missing docs page {}", a.docs);
    }
    assert!(root.join("docs/analytics/README.md").is_file());
    let cfg = AnalyticsConfig::from_toml_str("[breadth]\nwindow_mailboxes = 9\n").unwrap();
    let b = Analytics::list_with(&cfg)
        .into_iter()
        .find(|a| a.id == "builtin/breadth")
        .unwrap();
    assert!(
        b.settings
            .iter()
            .any(|s| s.name == "breadth.window_mailboxes" && s.value == "9")
    );
    assert_eq!(
        list.iter()
            .find(|a| a.id == "builtin/actor-hours")
            .unwrap()
            .default_level,
        Level::Informational
    );
}

#[test]
fn disabled_analytic_stays_quiet() {
    let w = crate::world::build();
    let cfg = AnalyticsConfig::from_toml_str("[ioc]\nenabled = false\n").unwrap();
    let mut a = Analytics::new(
        cfg,
        IocSet::builtin_storm_0558(),
        AppCatalog::builtin(),
        None,
        vec![],
    );
    w.events.iter().for_each(|e| a.observe(e));
    let out = a.finish();
    assert!(
        out.detections
            .iter()
            .all(|d| d.rule_id != "builtin/ioc-infrastructure")
    );
}
