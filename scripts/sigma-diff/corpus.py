"""The real records shared by every rule of the differential, with their log source."""

from __future__ import annotations

import json
from pathlib import Path


def _records(path: Path):
    text = path.read_text(encoding="utf-8-sig")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        out = []
        for line in text.splitlines():
            line = line.strip()
            if line:
                out.append(json.loads(line))
        return out
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict) and isinstance(doc.get("value"), list):
        return doc["value"]
    return [doc]


def _panther_kind(entry):
    log = entry["log"]
    types = " ".join(entry.get("log_types", []))
    if "Microsoft365" in types or "Office365" in types:
        return "ual"
    category = str(log.get("category", ""))
    if "SignIn" in category:
        return "entra_sign_in"
    if category == "AuditLogs":
        return "entra_audit"
    return "generic"


def load(corpus_root: Path):
    """[(source kind, corpus-relative file, record)] for logs/m365-ual and logs/entra-id."""
    logs = corpus_root / "logs"
    out = []
    skipped = []
    fixed = {
        "m365-ual/plaso/microsoft_audit_log.jsonl": "ual",
        "m365-ual/msdocs-management-api/retrieve-content-sample-response.json": "ual",
        "m365-ual/otrf-goldensaml-adfs-mail-access/OfficeActivityEvents.json": "sentinel_office_activity",
        "m365-ual/otrf-goldensaml-adfs-mail-access/AADAuditEvents.json": "entra_audit",
        "entra-id/msdocs/azure-monitor-signinlogs-sample.json": "entra_sign_in",
    }
    for rel, kind in fixed.items():
        for rec in _records(logs / rel):
            out.append((kind, "logs/" + rel, rec))
    rel = "m365-ual/otrf-goldensaml-adfs-mail-access/Microsoft365DefenderEvents.json"
    for rec in _records(logs / rel):
        # CloudAppEvents rows name a cloud application; the identity rows (LDAP, replication) do not
        cloud = rec.get("Application") not in (None, "", "Active Directory")
        kind = "defender_cloud_app_events" if cloud else "generic"
        out.append((kind, "logs/" + rel, rec))
    for rel in ("m365-ual/panther-rule-tests.ndjson", "entra-id/panther-rule-tests.ndjson"):
        for entry in _records(logs / rel):
            out.append((_panther_kind(entry), "logs/" + rel, entry["log"]))
    skipped.append(
        {
            "file": "logs/entra-id/msdocs/graph-signins-list-response.as-published.json",
            "reason": "not valid JSON as published (trailing comma); kept upstream as a malformed-input fixture",
        }
    )
    return out, skipped
