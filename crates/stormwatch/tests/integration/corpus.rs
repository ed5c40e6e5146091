//! The real public samples of the shared corpus.

use crate::util::{corpus, stormwatch};

#[test]
fn every_m365_and_entra_sample_reads_and_the_broken_graph_sample_is_located() {
    let c = corpus();
    let r = stormwatch([
        "hunt",
        "--format",
        "jsonl",
        c.join("logs/m365-ual").to_str().unwrap(),
        c.join("logs/entra-id").to_str().unwrap(),
    ])
    .expect_status(0);
    assert!(
        r.stderr
            .contains("graph-signins-list-response.as-published.json:"),
        "the trailing-comma Graph sample gives a located error: {}",
        r.stderr
    );
}

#[test]
fn otrf_forged_saml_mail_access_raises_new_client_app() {
    let c = corpus();
    let r = stormwatch([
        "hunt",
        "--format",
        "jsonl",
        c.join("logs/m365-ual/otrf-goldensaml-adfs-mail-access")
            .to_str()
            .unwrap(),
    ])
    .expect_status(0);
    let d = r.detections();
    assert!(
        d.iter().any(|d| d["rule_id"] == "builtin/new-mail-app"
            && d["app_id"] == "5a95e683-08ad-424e-a441-1d1aec52c02c"),
        "new ClientAppId detection on the OTRF record: {}",
        r.stdout
    );
}
