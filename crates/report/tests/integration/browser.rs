//! The impact HTML in a real headless browser (Debian's `chromium`).
//!
//! Runs when `chromium` is on PATH; without it the test prints why it is skipped, and fails
//! when the `CI` environment variable is set (CI must have the browser).

use std::process::Command;

use stormwatch_report::ImpactFormat;

use crate::fixtures::{XSS, report};
use crate::impact::render;

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

#[test]
fn impact_html_renders_in_headless_chromium_and_log_script_stays_text() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but chromium is not on PATH: install it (apt-get install -y chromium)"
        );
        eprintln!(
            "SKIPPED impact_html_renders_in_headless_chromium: chromium is not on PATH (apt-get install -y chromium)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("impact.html");
    std::fs::write(&file, render(&report(XSS), ImpactFormat::Html)).unwrap();
    let profile = dir.path().join("profile");
    let out = Command::new(&browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            &format!("--user-data-dir={}", profile.display()),
            "--dump-dom",
        ])
        .arg(&file)
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        dom.contains("What the logs cannot show"),
        "limits section rendered"
    );
    assert!(
        dom.contains("120 records but no MailItemsAccessed"),
        "limit text rendered"
    );
    assert!(dom.contains("Auditing throttled"));
    // The serialised DOM holds no script element: the log's <script> stayed text.
    assert!(
        !dom.to_ascii_lowercase().contains("<script"),
        "a script element was created"
    );
    assert!(
        dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "the value is shown as text"
    );
    assert!(dom.contains("<svg"), "the timeline is there");
}
