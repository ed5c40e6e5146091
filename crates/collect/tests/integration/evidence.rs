//! A collected folder read as evidence: its manifest is not an input, its gaps are limits.

use stormwatch_collect::Evidence;
use stormwatch_collect::fake::FakeApi;
use stormwatch_core::LimitKind;

use crate::util::{TENANT, options, scenario, tenant, this_hour};

#[test]
fn the_gaps_of_a_collected_folder_become_limits_of_its_scope() {
    let mut sc = scenario(61, 2);
    sc.inject.forbidden.insert("Audit.Exchange".to_owned());
    let fake = FakeApi::start(sc).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let until = this_hour();
    let since = until.add_seconds(-3 * 3600);
    stormwatch_collect::collect(options(
        dir.path(),
        since,
        until,
        vec![tenant(&fake, "Audit.Exchange,Audit.General")],
    ))
    .unwrap();
    let out = dir.path().display().to_string();

    let ev = Evidence::beside(std::slice::from_ref(&out));
    assert_eq!(
        ev.paths,
        vec![format!("{out}/{TENANT}")],
        "the manifest is left out"
    );
    assert_eq!(ev.limits.len(), 1, "{:#?}", ev.limits);
    let l = &ev.limits[0];
    assert_eq!(l.kind, LimitKind::NotCollected);
    assert_eq!((l.from, l.to), (Some(since), Some(until)));
    assert!(
        l.detail.starts_with(&format!(
            "Exchange audit (Audit.Exchange) for tenant {TENANT}, "
        )) && l
            .detail
            .contains("not collected: listing content failed: HTTP 403 AF10001"),
        "{}",
        l.detail
    );
    assert_eq!(
        ev.summary_notes()[0],
        format!("evidence limit: {}", l.detail)
    );
    // Restricted to other times or another tenant, it is not a limit of that reading.
    let again = || Evidence::beside(std::slice::from_ref(&out));
    assert_eq!(again().restrict(Some(until), None, &[]).limits.len(), 0);
    assert_eq!(again().restrict(None, Some(since), &[]).limits.len(), 0);
    assert_eq!(
        again()
            .restrict(Some(since.add_seconds(3600)), Some(until), &[])
            .limits
            .len(),
        1
    );
    let other = ["f28ab78a-d401-4060-8012-736e373933eb".to_owned()];
    assert_eq!(again().restrict(None, None, &other).limits.len(), 0);
    assert_eq!(
        again()
            .restrict(None, None, &[TENANT.to_uppercase()])
            .limits
            .len(),
        1
    );

    // A part of the folder carries the gaps of its part only.
    let general = format!("{out}/{TENANT}/Audit.General");
    let ev = Evidence::beside(std::slice::from_ref(&general));
    assert_eq!(ev.paths, vec![general]);
    assert!(ev.limits.is_empty());
    let tenant_dir = format!("{out}/{TENANT}");
    assert_eq!(Evidence::beside(&[tenant_dir]).limits.len(), 1);
    // The manifest named among the inputs (a shell glob) is not read as a log.
    let manifest = format!("{out}/manifest.json");
    let ev = Evidence::beside(&[manifest, format!("{out}/{TENANT}")]);
    assert_eq!(ev.paths, vec![format!("{out}/{TENANT}")]);
    assert_eq!(ev.limits.len(), 1);

    // A damaged manifest is said, not skipped silently.
    std::fs::write(
        dir.path().join("manifest.json"),
        br#"{"format": "stormwatch-collect-manifest", "version": "#,
    )
    .unwrap();
    let ev = Evidence::beside(std::slice::from_ref(&out));
    assert!(ev.limits.is_empty());
    assert!(ev.notes[0].contains("cannot be read"), "{:?}", ev.notes);
    // Anything else named manifest.json is an ordinary input.
    std::fs::write(dir.path().join("manifest.json"), br#"{"name": "app"}"#).unwrap();
    let ev = Evidence::beside(std::slice::from_ref(&out));
    assert_eq!(ev.paths, vec![out]);
    assert!(ev.notes.is_empty());
}
