//! Against the generator's ground truth: several seeds, every UAL format, one and two passes.

use std::collections::BTreeSet;

use stormwatch_core::{ImpactReport, LimitKind, Timestamp};
use stormwatch_gen::{Compression, Format, Scenario, ScenarioOptions, Truth};
use stormwatch_impact::{Assessor, ImpactOptions, Seeds};
use stormwatch_read::{Input, ReadOptions, read_all};

use crate::build::pairs;

fn truth_pairs(t: &Truth) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for o in &t.organizations {
        for m in &o.mailboxes {
            for f in &m.folders {
                for msg in &f.messages {
                    out.insert((m.mailbox.to_lowercase(), msg.internet_message_id.clone()));
                }
            }
        }
    }
    out
}

/// The actor's IOC IPs with their windows (the truth's `to` is an inclusive last day).
fn options(t: &Truth) -> ImpactOptions {
    ImpactOptions {
        expand: true,
        ioc_windows: t
            .actor
            .ioc_windows
            .iter()
            .map(|w| (w.ip.clone(), w.from, w.to.add_seconds(86_400)))
            .collect(),
        ..ImpactOptions::default()
    }
}

fn assess(paths: &[std::path::PathBuf], opts: &ImpactOptions) -> (ImpactReport, ImpactReport) {
    let inputs: Vec<Input> = paths.iter().cloned().map(Input::Path).collect();
    let (events, stats) = read_all(
        &inputs,
        &ReadOptions {
            threads: 1,
            ..ReadOptions::default()
        },
    )
    .unwrap();
    let mut one = Assessor::new();
    for e in &events {
        one.observe(e);
    }
    let one = one.finish(&Seeds::default(), opts, &stats);
    let mut first = Assessor::graph_only();
    for e in &events {
        first.observe(e);
    }
    let actor = first.resolve_actor(&Seeds::default(), opts);
    let mut second = Assessor::focused(&actor);
    for e in events.iter().rev() {
        second.observe(e);
    }
    (one, second.finish(&Seeds::default(), opts, &stats))
}

#[test]
fn generated_scenarios_match_their_ground_truth_in_every_format() {
    // Every format on seed 1; the JSON lines and the newest-first Purview CSV on seeds 2, 3.
    for seed in [1, 2, 3] {
        let formats: Vec<Format> = if seed == 1 {
            Format::ALL.to_vec()
        } else {
            vec![Format::Ndjson, Format::Csv, Format::SigninsAzureMonitor]
        };
        let s = Scenario::generate(&ScenarioOptions {
            seed,
            ..ScenarioOptions::default()
        });
        let t = s.truth();
        let dir = tempfile::tempdir().unwrap();
        s.write(dir.path(), &formats, Compression::None).unwrap();
        let opts = options(t);
        let want = truth_pairs(t);
        let mut json: Option<String> = None;
        for f in formats.iter().copied() {
            if f.is_signins() {
                continue;
            }
            let mut paths = vec![dir.path().join(f.name())];
            paths.push(dir.path().join(Format::SigninsAzureMonitor.name()));
            let (r, r2) = assess(&paths, &opts);
            let ctx = format!("seed {seed}, {}", f.name());
            assert_eq!(
                serde_json::to_string(&r).unwrap(),
                serde_json::to_string(&r2).unwrap(),
                "{ctx}: two passes differ"
            );
            if f == Format::DefenderFlat {
                // Folder items lost: nothing can be listed, and the report says so.
                assert!(pairs(&r).is_empty(), "{ctx}");
                assert!(
                    r.limits.iter().any(|l| l.kind == LimitKind::ItemsLost),
                    "{ctx}"
                );
                continue;
            }
            assert_eq!(pairs(&r), want, "{ctx}: (mailbox, InternetMessageId) set");
            assert_eq!(r.window.first, Some(t.window.first), "{ctx}");
            assert_eq!(r.window.last, Some(t.window.last), "{ctx}");
            check_mailboxes(&r, t, &ctx);
            // Every format gives the same report, apart from where the records came from.
            let mut v = serde_json::to_value(&r).unwrap();
            for k in ["expansion", "sources", "coverage"] {
                v.as_object_mut().unwrap().remove(k);
            }
            let limits: Vec<_> = v["limits"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|l| l["kind"] != "parse_errors")
                .cloned()
                .collect();
            v["limits"] = serde_json::Value::Array(limits);
            let text = serde_json::to_string(&v)
                .unwrap()
                .replace(&dir.path().display().to_string(), "");
            let text = text.replace(&format!("/{}/", f.name()), "/");
            match &json {
                None => json = Some(text),
                Some(first) => assert_eq!(
                    strip_locations(first),
                    strip_locations(&text),
                    "{ctx}: differs from the first format"
                ),
            }
        }
    }
}

/// Limits that quote a record location (audit bypass) name the format's own file and line.
fn strip_locations(s: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(s).unwrap();
    let mut v = v;
    let keep = |l: &serde_json::Value| l["kind"] != "audit_bypass";
    let top: Vec<_> = v["limits"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| keep(l))
        .cloned()
        .collect();
    v["limits"] = serde_json::Value::Array(top);
    for o in v["organizations"].as_array_mut().unwrap() {
        let ls: Vec<_> = o["limits"]
            .as_array()
            .map(|a| a.iter().filter(|l| keep(l)).cloned().collect())
            .unwrap_or_default();
        o["limits"] = serde_json::Value::Array(ls);
    }
    v.to_string()
}

fn check_mailboxes(r: &ImpactReport, t: &Truth, ctx: &str) {
    for to in &t.organizations {
        let o = r
            .organizations
            .iter()
            .find(|o| o.tenant_id == to.tenant_id.to_lowercase())
            .unwrap();
        assert_eq!(
            (o.first_access, o.last_access),
            (Some(to.first_access), Some(to.last_access)),
            "{ctx}"
        );
        for tm in &to.mailboxes {
            let m = o
                .mailboxes
                .iter()
                .find(|m| m.mailbox == tm.mailbox.to_lowercase())
                .unwrap();
            assert_eq!(
                (m.first_access, m.last_access),
                (Some(tm.first_access), Some(tm.last_access)),
                "{ctx} {}",
                tm.mailbox
            );
            assert_eq!(m.unlisted_binds, tm.unlisted_binds, "{ctx} {}", tm.mailbox);
            let throttled: Vec<(Option<Timestamp>, Option<Timestamp>)> = m
                .limits
                .iter()
                .filter(|l| l.kind == LimitKind::Throttled)
                .map(|l| (l.from, l.to))
                .collect();
            let want: Vec<_> = tm
                .throttled
                .iter()
                .map(|w| (Some(w.from), Some(w.to)))
                .collect();
            assert_eq!(throttled, want, "{ctx} {}", tm.mailbox);
            for tf in &tm.folders {
                let f = m.folders.iter().find(|f| f.path == tf.path).unwrap();
                assert_eq!(
                    f.whole_folder, tf.whole_folder,
                    "{ctx} {} {}",
                    tm.mailbox, tf.path
                );
                for tmsg in &tf.messages {
                    let msg = f
                        .messages
                        .iter()
                        .find(|x| x.internet_message_id == tmsg.internet_message_id)
                        .unwrap();
                    assert_eq!(
                        (
                            msg.size_bytes,
                            msg.first_access,
                            msg.last_access,
                            msg.access_count
                        ),
                        (
                            Some(tmsg.size_bytes),
                            Some(tmsg.first_access),
                            Some(tmsg.last_access),
                            tmsg.access_count
                        ),
                        "{ctx} {}",
                        tmsg.internet_message_id
                    );
                }
            }
        }
    }
    for u in &t.unaudited_tenants {
        let o = r.organizations.iter().find(|o| &o.tenant_id == u).unwrap();
        assert!(
            o.limits.iter().any(|l| l.kind == LimitKind::NoMailAudit),
            "{ctx}: unaudited tenant {u}"
        );
        assert!(
            r.limits
                .iter()
                .any(|l| l.kind == LimitKind::NoMailAudit && l.detail.contains(u.as_str())),
            "{ctx}"
        );
    }
    let syncs: BTreeSet<(String, String)> = r
        .organizations
        .iter()
        .flat_map(|o| o.mailboxes.iter())
        .flat_map(|m| {
            m.folders
                .iter()
                .filter(|f| f.whole_folder)
                .map(move |f| (m.mailbox.clone(), f.path.clone()))
        })
        .collect();
    let want: BTreeSet<(String, String)> = t
        .whole_folder_syncs
        .iter()
        .map(|s| (s.mailbox.to_lowercase(), s.path.clone()))
        .collect();
    assert_eq!(syncs, want, "{ctx}: whole-folder syncs");
}
