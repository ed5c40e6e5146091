//! The syslog sink: RFC 5424 messages over TCP (octet counting, RFC 6587, or a newline after
//! each) or UDP (one datagram each, RFC 5426).
//!
//! `<PRI>1 TIMESTAMP HOSTNAME stormwatch PROCID alert.raised [stormwatch@32473 id="…"
//! rule_id="…" level="…" revision="…" incident_id="…"] BOM{"id":…,"rule_title":…}`: the
//! severity follows the alert's level (critical 2, high 3, medium 4, low 5, informational 6).
//! 32473 is the private enterprise number reserved for documentation (RFC 5612).

use serde_json::{Value, json};
use stormwatch_store::OutboxItem;
use tokio::io::AsyncWriteExt as _;

use super::Failure;

pub(crate) struct Settings {
    pub(crate) address: String,
    pub(crate) tcp: bool,
    pub(crate) octet_counting: bool,
    pub(crate) facility: u8,
    pub(crate) app_name: String,
    pub(crate) hostname: String,
    pub(crate) max_message: usize,
}

pub(crate) struct Syslog {
    s: Settings,
    tcp: Option<tokio::net::TcpStream>,
    udp: Option<tokio::net::UdpSocket>,
}

fn severity(level: &str) -> u8 {
    match level {
        "critical" => 2,
        "high" => 3,
        "medium" => 4,
        "low" => 5,
        _ => 6,
    }
}

/// Printable US-ASCII without spaces, at most `max` characters; `-` when empty.
fn header_field(s: &str, max: usize) -> String {
    let v: String = s
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(max)
        .collect();
    if v.is_empty() { "-".to_owned() } else { v }
}

/// An SD-PARAM value with `"`, `\` and `]` escaped.
fn sd_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Cut `s` to at most `max` bytes on a character boundary.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The RFC 5424 message of an outbox item (its payload is the sinks' JSON message).
pub(crate) fn format_message(s: &Settings, item: &OutboxItem, pid: u32) -> String {
    let msg: Value = serde_json::from_str(&item.payload).unwrap_or(Value::Null);
    let a = &msg["alert"];
    let text = |k: &str| a[k].as_str().unwrap_or("").to_owned();
    let level = text("level");
    let pri = u16::from(s.facility) * 8 + u16::from(severity(&level));
    let ts = a["updated_at"]
        .as_str()
        .map_or_else(|| crate::now().to_string(), str::to_owned);
    let sd = format!(
        "[stormwatch@32473 id=\"{}\" rule_id=\"{}\" level=\"{}\" revision=\"{}\" incident_id=\"{}\"]",
        sd_value(&item.alert_id),
        sd_value(&text("rule_id")),
        sd_value(&level),
        msg["revision"].as_u64().unwrap_or(0),
        sd_value(a["incident_id"].as_str().unwrap_or("")),
    );
    let head = format!(
        "<{pri}>1 {} {} {} {pid} {} {sd} \u{feff}",
        header_field(&ts, 64),
        header_field(&s.hostname, 255),
        header_field(&s.app_name, 48),
        header_field(&item.event, 32),
    );
    let mut summary = json!({
        "type": item.event,
        "id": item.alert_id,
        "rule_id": a["rule_id"],
        "rule_title": a["rule_title"],
        "level": a["level"],
        "timestamp": a["timestamp"],
        "status": a["status"],
        "tenant": a["tenant"],
        "user": a["user"],
        "mailbox": a["mailbox"],
        "ip": a["ip"],
        "incident_id": a["incident_id"],
        "records": a["events"].as_array().map_or(0, Vec::len),
        "explanation": "",
    });
    let body = summary.to_string();
    let room = s.max_message.saturating_sub(head.len() + body.len());
    summary["explanation"] = json!(cut(&text("explanation"), room.saturating_sub(64)));
    let mut out = head;
    out.push_str(&summary.to_string());
    let keep = cut(&out, s.max_message).len();
    out.truncate(keep);
    out
}

impl Syslog {
    pub(crate) fn new(s: Settings) -> Syslog {
        Syslog {
            s,
            tcp: None,
            udp: None,
        }
    }

    pub(crate) async fn deliver(&mut self, item: &OutboxItem) -> Result<(), Failure> {
        let msg = format_message(&self.s, item, std::process::id());
        let addr = self.s.address.clone();
        if self.s.tcp {
            if self.tcp.is_none() {
                let c = tokio::net::TcpStream::connect(&addr)
                    .await
                    .map_err(|e| Failure::retry(format!("connecting to {addr}: {e}")))?;
                self.tcp = Some(c);
            }
            let frame = if self.s.octet_counting {
                format!("{} {msg}", msg.len())
            } else {
                format!("{msg}\n")
            };
            let Some(c) = self.tcp.as_mut() else {
                return Err(Failure::retry("not connected"));
            };
            let r = async {
                c.write_all(frame.as_bytes()).await?;
                c.flush().await
            }
            .await;
            if let Err(e) = r {
                self.tcp = None;
                return Err(Failure::retry(format!("writing to {addr}: {e}")));
            }
            Ok(())
        } else {
            if self.udp.is_none() {
                let bind = if addr.starts_with('[') {
                    "[::]:0"
                } else {
                    "0.0.0.0:0"
                };
                let sock = tokio::net::UdpSocket::bind(bind)
                    .await
                    .map_err(|e| Failure::retry(format!("opening a UDP socket: {e}")))?;
                sock.connect(&addr)
                    .await
                    .map_err(|e| Failure::retry(format!("{addr}: {e}")))?;
                self.udp = Some(sock);
            }
            let Some(u) = self.udp.as_ref() else {
                return Err(Failure::retry("no socket"));
            };
            u.send(msg.as_bytes()).await.map_err(|e| {
                self.udp = None;
                Failure::retry(format!("sending to {addr}: {e}"))
            })?;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn item(explanation: &str) -> OutboxItem {
        OutboxItem {
            id: 1,
            sink: "syslog".into(),
            alert_id: "0123abcd".into(),
            event: "alert.raised".into(),
            payload: json!({
                "type": "alert.raised", "id": "0123abcd", "revision": 1,
                "alert": {"id": "0123abcd", "rule_id": "r\"1]", "rule_title": "Mail read", "level": "high",
                          "timestamp": "2023-06-12T03:14:07Z", "updated_at": "2023-06-12T03:20:00Z",
                          "events": [{"file": "ingest/1", "line": 1}], "incident_id": null,
                          "explanation": explanation}
            })
            .to_string(),
            attempts: 0,
            version: 0,
            last_error: None,
        }
    }

    fn settings(max: usize) -> Settings {
        Settings {
            address: "127.0.0.1:1".into(),
            tcp: true,
            octet_counting: true,
            facility: 16,
            app_name: "stormwatch".into(),
            hostname: "host one".into(),
            max_message: max,
        }
    }

    #[test]
    fn rfc5424_layout() {
        let m = format_message(&settings(8192), &item("why"), 42);
        // local0 (16) * 8 + err (3) = 131.
        assert!(
            m.starts_with("<131>1 2023-06-12T03:20:00Z hostone stormwatch 42 alert.raised [stormwatch@32473 id=\"0123abcd\" rule_id=\"r\\\"1\\]\" level=\"high\" revision=\"1\" incident_id=\"\"] \u{feff}{"),
            "{m}"
        );
        let json_part = &m[m.find('\u{feff}').unwrap() + 3..];
        let v: Value = serde_json::from_str(json_part).unwrap();
        assert_eq!(v["rule_title"], "Mail read");
        assert_eq!(v["records"], 1);
        assert_eq!(v["explanation"], "why");
    }

    #[test]
    fn long_explanations_are_cut_to_the_size() {
        let m = format_message(&settings(1024), &item(&"é".repeat(5000)), 1);
        assert!(m.len() <= 1024);
        let json_part = &m[m.find('\u{feff}').unwrap() + 3..];
        assert!(serde_json::from_str::<Value>(json_part).is_ok(), "{m}");
    }
}
