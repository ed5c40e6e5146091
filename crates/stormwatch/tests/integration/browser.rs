//! The hunt HTML report in a real headless browser (Debian's `chromium`), at 1400 px wide and
//! at a phone's width: the first incident is on the first screen, a `<script>` in a log value
//! stays text, the page fits the width, and the detections table sorts and filters.
//!
//! Runs when `chromium` is on PATH; without it the test prints why it is skipped, and fails
//! when the `CI` environment variable is set (CI must have the browser). With
//! `STORMWATCH_SCREENSHOTS=DIR` it also leaves its screenshots of the example's report in DIR
//! (`hunt-report.png`, `hunt-report-phone.png`: the ones in `docs/` were made so).

use std::path::Path;
use std::process::Command;

use crate::util::{example, stormwatch};

fn chromium() -> Option<String> {
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser"] {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p.to_string_lossy().into_owned());
            }
        }
    }
    None
}

fn browser(bin: &str, profile: &Path) -> Command {
    let mut c = Command::new(bin);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

/// A page that loads the report in two frames (1400 × 900 and 390 × 844), measures them,
/// works the table's filters and sorting, and writes what it found as `key=value` lines.
const PROBE: &str = r#"<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>
<iframe id="wide" src="report.html" style="width:1400px;height:900px;border:0"></iframe>
<iframe id="phone" src="report.html" style="width:390px;height:844px;border:0"></iframe>
<pre id="out">not run</pre>
<script>
function measure(id, lines) {
  var f = document.getElementById(id), d = f.contentDocument, w = f.contentWindow;
  var inc = d.querySelector('article.incident');
  var h = inc.querySelector('h3').getBoundingClientRect();
  var names = inc.querySelector('dd.names').getBoundingClientRect();
  lines.push(id + '.vh=' + w.innerHeight, id + '.vw=' + w.innerWidth,
    id + '.first_incident=' + inc.id,
    id + '.incident_top=' + Math.round(h.top), id + '.incident_bottom=' + Math.round(h.bottom),
    id + '.names_top=' + Math.round(names.top),
    id + '.scroll_width=' + d.documentElement.scrollWidth,
    id + '.scripts=' + d.querySelectorAll('script').length,
    id + '.images=' + d.querySelectorAll('img').length,
    id + '.payload_as_text=' + (d.body.textContent.indexOf('<script>alert(1)<\/script>@agency.example') >= 0));
}
function table(lines) {
  var d = document.getElementById('wide').contentDocument;
  var rows = function () { return Array.prototype.slice.call(d.querySelectorAll('#dets tbody tr')); };
  var shown = function () { return rows().filter(function (r) { return !r.hidden; }); };
  lines.push('rows=' + rows().length);
  var level = d.getElementById('f-level');
  level.value = '4';
  level.dispatchEvent(new Event('change'));
  lines.push('critical_shown=' + shown().length);
  lines.push('critical_only=' + shown().every(function (r) { return r.getAttribute('data-level') === '4'; }));
  level.value = '0';
  level.dispatchEvent(new Event('change'));
  var who = d.getElementById('f-who');
  who.value = 'liam.rossi';
  who.dispatchEvent(new Event('input'));
  lines.push('who_shown=' + shown().length);
  lines.push('who_only=' + shown().every(function (r) { return r.getAttribute('data-who').indexOf('liam.rossi') >= 0; }));
  who.value = '';
  who.dispatchEvent(new Event('input'));
  d.querySelector('#dets th[data-key="t"]').click();
  var t = rows().map(function (r) { return r.getAttribute('data-t'); });
  var sorted = t.every(function (x, i) { return i === 0 || t[i - 1] <= x; });
  lines.push('sorted_by_time=' + sorted);
}
window.addEventListener('load', function () {
  var lines = [];
  try { measure('wide', lines); measure('phone', lines); table(lines); }
  catch (e) { lines.push('error=' + e); }
  document.getElementById('out').textContent = lines.join('\n');
});
</script></body></html>
"#;

/// A record whose user and mailbox carry markup: a Sigma rule fires on it, so both are in the
/// report.
const HOSTILE: &str = r#"{"CreationTime":"2023-06-12T03:14:07","Id":"xss-1","Operation":"MailItemsAccessed","RecordType":50,"Workload":"Exchange","ClientInfoString":"Client=REST;Client=RESTSystem;;","ClientIPAddress":"203.0.113.9","UserId":"<script>alert(1)</script>@agency.example","MailboxOwnerUPN":"<img src=x onerror=alert(2)>@agency.example","OrganizationId":"a6b593ab-95d9-42f9-adc6-733a3c3c9857"}
"#;

fn results(dom: &str) -> std::collections::BTreeMap<String, String> {
    let start = dom.find("<pre id=\"out\">").map(|i| i + 14).unwrap_or(0);
    let end = dom[start..].find("</pre>").map_or(dom.len(), |i| start + i);
    dom[start..end]
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[test]
fn hunt_html_first_screen_in_headless_chromium_at_desktop_and_phone_widths() {
    let Some(bin) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but chromium is not on PATH: install it (apt-get install -y chromium)"
        );
        eprintln!(
            "SKIPPED hunt_html_first_screen_in_headless_chromium: chromium is not on PATH (apt-get install -y chromium)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let hostile = dir.path().join("hostile.ndjson");
    std::fs::write(&hostile, HOSTILE).unwrap();
    let report = dir.path().join("report.html");
    stormwatch([
        "hunt",
        "-q",
        "--format",
        "html",
        "-o",
        report.to_str().unwrap(),
        example().to_str().unwrap(),
        hostile.to_str().unwrap(),
    ])
    .expect_status(0);
    let probe = dir.path().join("probe.html");
    std::fs::write(&probe, PROBE).unwrap();
    let out = browser(&bin, &dir.path().join("profile"))
        .args([
            "--allow-file-access-from-files",
            "--virtual-time-budget=60000",
            "--dump-dom",
        ])
        .arg(&probe)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dom = String::from_utf8_lossy(&out.stdout);
    let r = results(&dom);
    let get = |k: &str| -> String {
        r.get(k)
            .cloned()
            .unwrap_or_else(|| panic!("{k} not measured: {r:?}"))
    };
    let num = |k: &str| -> i64 { get(k).parse().unwrap_or_else(|e| panic!("{k}: {e}")) };
    assert!(!r.contains_key("error"), "{r:?}");
    for frame in ["wide", "phone"] {
        let k = |s: &str| format!("{frame}.{s}");
        assert_eq!(get(&k("first_incident")), "INC-0001");
        // The first incident, with its first names, is on the first screen.
        assert!(num(&k("incident_top")) >= 0, "{r:?}");
        assert!(
            num(&k("incident_bottom")) <= num(&k("vh")),
            "{frame}: {r:?}"
        );
        assert!(num(&k("names_top")) < num(&k("vh")) - 20, "{frame}: {r:?}");
        // Nothing wider than the screen (tables scroll inside their own box).
        assert!(
            num(&k("scroll_width")) <= num(&k("vw")),
            "{frame} scrolls sideways: {r:?}"
        );
        // The page's one script; the log's <script> and <img> stayed text.
        assert_eq!(get(&k("scripts")), "1", "{r:?}");
        assert_eq!(get(&k("images")), "0", "{r:?}");
        assert_eq!(get(&k("payload_as_text")), "true", "{r:?}");
    }
    // The detections table filters by level and mailbox, and sorts.
    assert!(num("rows") > 900, "{r:?}");
    assert!(num("critical_shown") > 0 && num("critical_shown") < num("rows"));
    assert_eq!(get("critical_only"), "true");
    assert!(num("who_shown") > 0 && num("who_shown") < num("rows"));
    assert_eq!(get("who_only"), "true");
    assert_eq!(get("sorted_by_time"), "true");
    assert!(
        !dom.contains("<script>alert(1)</script>@"),
        "the payload never became markup"
    );

    // Screenshots of the example's report, as a reader sees its first screen.
    let page = dir.path().join("example.html");
    stormwatch([
        "hunt",
        "-q",
        "--format",
        "html",
        "-o",
        page.to_str().unwrap(),
        example().to_str().unwrap(),
    ])
    .expect_status(0);
    let keep = std::env::var_os("STORMWATCH_SCREENSHOTS").map(std::path::PathBuf::from);
    for (name, size) in [
        ("hunt-report.png", "1400,900"),
        ("hunt-report-phone.png", "390,844"),
    ] {
        let shot = dir.path().join(name);
        let out = browser(&bin, &dir.path().join("profile"))
            .arg(format!("--screenshot={}", shot.display()))
            .arg(format!("--window-size={size}"))
            .arg(&page)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let png = std::fs::read(&shot).unwrap();
        assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "{name}");
        if let Some(k) = &keep {
            std::fs::write(k.join(name), &png).unwrap();
        }
    }
}
