//! Syslog (TCP with octet counting, UDP) and file sinks; a restart keeps what was stored and
//! sends nothing twice.

use std::io::{BufRead as _, Read as _};
use std::net::{TcpListener, UdpSocket};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::util::{Server, ual};

/// Read RFC 6587 octet-counted frames from every connection.
fn tcp_receiver() -> (u16, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = Arc::clone(&got);
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(conn) = conn else { return };
            let g = Arc::clone(&g);
            std::thread::spawn(move || {
                let mut r = std::io::BufReader::new(conn);
                loop {
                    let mut len = Vec::new();
                    if r.read_until(b' ', &mut len).unwrap_or(0) == 0 {
                        return;
                    }
                    let n: usize = String::from_utf8_lossy(&len[..len.len() - 1])
                        .parse()
                        .unwrap();
                    let mut msg = vec![0u8; n];
                    if r.read_exact(&mut msg).is_err() {
                        return;
                    }
                    g.lock().unwrap().push(String::from_utf8(msg).unwrap());
                }
            });
        }
    });
    (port, got)
}

#[test]
fn syslog_over_tcp_and_udp_and_a_jsonl_file() {
    let (tcp_port, tcp_got) = tcp_receiver();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let udp_port = udp.local_addr().unwrap().port();
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("out/alerts.jsonl");
    let toml = format!(
        "[[sinks]]\ntype = \"syslog\"\naddress = \"127.0.0.1:{tcp_port}\"\nmin_level = \"high\"\n\
         [[sinks]]\ntype = \"syslog\"\nname = \"udp\"\naddress = \"127.0.0.1:{udp_port}\"\ntransport = \"udp\"\nmin_level = \"high\"\nfacility = \"local4\"\n\
         [[sinks]]\ntype = \"file\"\npath = \"{}\"\nmin_level = \"low\"\n",
        file.display()
    );
    let s = Server::start(&toml);
    s.ingest(format!(
        "{}\n{}\n",
        ual("x-1", 1, "New-InboxRule"),
        ual("x-2", 2, "MailItemsAccessed")
    ));
    s.flush();
    let high = s.alerts("&level=high");
    assert_eq!(high.len(), 1);
    let id = high[0]["id"].as_str().unwrap().to_owned();
    s.wait_for("the TCP syslog message", |_| {
        !tcp_got.lock().unwrap().is_empty()
    });
    let msg = tcp_got.lock().unwrap()[0].clone();
    // local0 (16) * 8 + err (3).
    assert!(msg.starts_with("<131>1 "), "{msg}");
    assert!(
        msg.contains(" alert.raised [stormwatch@32473 id=\""),
        "{msg}"
    );
    assert!(msg.contains(&format!("id=\"{id}\"")), "{msg}");
    let json = &msg[msg.find('\u{feff}').unwrap() + 3..];
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(v["rule_title"], "Inbox rule made");
    let mut buf = [0u8; 9000];
    let n = udp.recv(&mut buf).unwrap();
    let m = String::from_utf8_lossy(&buf[..n]).into_owned();
    // local4 (20) * 8 + err (3).
    assert!(m.starts_with("<163>1 "), "{m}");
    s.wait_for("the file sink", |_| {
        std::fs::read_to_string(&file).is_ok_and(|t| t.lines().count() >= 2)
    });
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.iter().all(|l| l["type"] == "alert.raised"));
    assert!(
        lines
            .iter()
            .any(|l| l["id"] == id.as_str() && l["alert"]["rule_title"] == "Inbox rule made")
    );
    let before = lines.len();
    // A restart sends nothing again.
    let s = s.restart(&toml);
    s.ingest(ual("x-3", 3, "Send"));
    s.flush();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap().lines().count(),
        before
    );
    assert_eq!(tcp_got.lock().unwrap().len(), 1);
    let m = String::from_utf8(s.get("/metrics").body).unwrap();
    assert!(
        m.contains("stormwatch_sink_queue{sink=\"file-2\"} 0"),
        "{m}"
    );
}

#[test]
fn a_restart_restores_the_detector_and_keeps_every_alert() {
    let s = Server::start("[detect]\ncheckpoint_interval = \"100ms\"\n");
    let body: String = (0..30)
        .map(|i| ual(&format!("k-{i}"), i, "New-InboxRule") + "\n")
        .collect();
    s.ingest(body);
    s.flush();
    let before: Vec<serde_json::Value> = s.alerts("");
    let s = s.restart("[detect]\ncheckpoint_interval = \"100ms\"\n");
    let m = String::from_utf8(s.get("/metrics").body).unwrap();
    assert!(m.contains("stormwatch_pipeline_pending_records 0"), "{m}");
    s.flush();
    let after = s.alerts("");
    let ids = |v: &[serde_json::Value]| {
        let mut i: Vec<String> = v
            .iter()
            .map(|a| a["id"].as_str().unwrap().to_owned())
            .collect();
        i.sort();
        i
    };
    assert_eq!(ids(&before), ids(&after));
    // The restored detector still knows the records: the next one joins the same state.
    s.ingest(ual("k-30", 30, "New-InboxRule"));
    s.flush();
    assert_eq!(s.alerts("&level=high").len(), 31);
}
