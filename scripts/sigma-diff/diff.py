"""Differential fixtures: what pySigma's SQLite backend matches, per rule, on a shared event set.

For every rule file: derive positive and near-miss events from the rule's own detection, add
the real M365 / Entra records of the corpus, convert the rule with pysigma-backend-sqlite, run
the SQL over the events loaded into SQLite the way Zircolite loads them (flattened JSON,
COLLATE NOCASE columns) and write crates/sigma/tests/fixtures/pysigma/<rule-id>.json.
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import sys
from importlib.metadata import version
from pathlib import Path

import yaml
from sigma.backends.sqlite import sqliteBackend
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.rule import SigmaRule

import corpus
import correlations
from gen_events import dedupe, events_for_condition

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
CORPUS = REPO / "testdata"
OUT = REPO / "crates/sigma/tests/fixtures/pysigma"
FULLTEXT = "_fulltext"
TIME_FIELD = "CreationTime"

RULE_DIRS = [
    "rules/sigmahq",
    "rules/stormwatch",
    "scripts/sigma-diff/spec-examples",
]


# ---- SQLite loading, as Zircolite does it ----------------------------------------------------


def flatten(record, prefix="", out=None):
    """Nested objects become dotted column names; lists are kept as their JSON text."""
    if out is None:
        out = {}
    if isinstance(record, dict):
        for k, v in record.items():
            flatten(v, f"{prefix}{k}.", out) if isinstance(v, dict) else _leaf(out, f"{prefix}{k}", v)
    return out


def _leaf(out, key, value):
    if isinstance(value, list):
        value = json.dumps(value, separators=(",", ":"))
    out[key] = value


def fulltext(record):
    """Every scalar value of the record, one per line (keyword search text)."""
    vals = []

    def walk(v):
        if isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif v is not None:
            vals.append(str(v).lower() if isinstance(v, bool) else str(v))

    walk(record)
    return "\n".join(vals)


def quote(name):
    return "`" + name.replace("`", "``") + "`"


def load_db(events):
    """An in-memory table `logs` holding the events; rowid = index + 1.

    Columns are typed as Zircolite types them: INTEGER when the first value seen is an integer
    (or a boolean), otherwise TEXT COLLATE NOCASE. SQLite column names are case-insensitive, so
    keys differing only in case share a column (the first spelling names it)."""
    db = sqlite3.connect(":memory:")
    db.create_function(
        "regexp", 2, lambda p, v: v is not None and re.search(p, str(v)) is not None
    )
    flat = [flatten(e) for e in events]
    cols = {}  # lower name -> (name as first seen, declared type)
    for f in flat:
        for k, v in f.items():
            if v is None:
                continue
            cols.setdefault(k.lower(), (k, "INTEGER" if isinstance(v, int) else "TEXT COLLATE NOCASE"))
    for f in flat:
        for k in f:
            cols.setdefault(k.lower(), (k, "TEXT COLLATE NOCASE"))
    cols.setdefault(FULLTEXT.lower(), (FULLTEXT, "TEXT COLLATE NOCASE"))
    coldefs = ", ".join(f"{quote(c)} {t}" for c, t in cols.values())
    db.execute(f"CREATE TABLE logs ({coldefs})")
    for i, (f, e) in enumerate(zip(flat, events)):
        row = {}
        for k, v in f.items():
            row.setdefault(cols[k.lower()][0], v)
        row[FULLTEXT] = fulltext(e)
        names = list(row)
        db.execute(
            f"INSERT INTO logs (rowid, {', '.join(quote(n) for n in names)}) VALUES (?, {', '.join('?' for _ in names)})",
            [i + 1] + [row[n] for n in names],
        )
    return db, set(cols)


def run_query(db, cols, sql):
    """Run a query; columns the table lacks are added as NULL first (as Zircolite does)."""
    for _ in range(200):
        try:
            return db.execute(sql).fetchall(), [d[0] for d in db.execute(sql).description]
        except sqlite3.OperationalError as e:
            m = re.match(r"no such column: (.+)$", str(e))
            if not m:
                raise
            name = m.group(1).strip().strip("`")
            if name.lower() in cols:
                raise
            db.execute(f"ALTER TABLE logs ADD COLUMN {quote(name)} TEXT COLLATE NOCASE")
            cols.add(name.lower())
    raise RuntimeError("too many missing columns")


def detection_matches(db, cols, sql):
    if not sql.startswith("SELECT * FROM logs"):
        raise ValueError("unexpected query shape: " + sql[:60])
    rows, _ = run_query(db, cols, sql.replace("SELECT * FROM logs", "SELECT rowid FROM logs", 1))
    return sorted(r[0] - 1 for r in rows)


# ---- one rule file ---------------------------------------------------------------------------


def backend():
    return sqliteBackend(fulltext_field=FULLTEXT, timestamp_field=TIME_FIELD)


def rule_events(rule: SigmaRule):
    events = []
    for i, cond in enumerate(rule.detection.parsed_condition):
        events.extend(events_for_condition(cond.parsed, f"condition {i}"))
    return events


def process_file(rel: str, corpus_events):
    path = REPO / rel
    text = path.read_text(encoding="utf-8")
    result = {"rule": rel, "rule_yaml": text}
    try:
        coll = SigmaCollection.from_yaml(text, collect_errors=True)
    except Exception as e:  # noqa: BLE001
        return None, {"rule": rel, "reason": f"pySigma cannot load it: {type(e).__name__}: {e}"}
    errors = [str(e) for r in coll.rules for e in getattr(r, "errors", [])]
    errors += [str(e) for e in getattr(coll, "errors", [])]
    if errors:
        return None, {"rule": rel, "reason": "pySigma cannot load it: " + "; ".join(errors)}
    detections = [r for r in coll.rules if isinstance(r, SigmaRule)]
    corrs = [r for r in coll.rules if isinstance(r, SigmaCorrelationRule)]
    ids = [str(r.id) if r.id else (r.name or rel) for r in coll.rules]
    result["rule_ids"] = ids
    main_id = str(corrs[0].id) if corrs and corrs[0].id else ids[0]
    result["id"] = main_id

    b = backend()
    notes = []
    if corrs:
        events, times, enotes = correlations.events_for(coll, rel)
    else:
        events, times, enotes = [], [], []
        for r in detections:
            try:
                evs = rule_events(r)
            except Exception as e:  # noqa: BLE001
                notes.append(f"event generation failed: {type(e).__name__}: {e}")
                evs = []
            events.extend(evs)
        evs = dedupe(events)
        events = [e for _, e in evs]
        enotes = [n for n, _ in evs]
        times = [None] * len(events)
    result["source"] = "generic"
    result["ignore_logsource"] = True
    result["events"] = events
    result["event_times"] = times
    result["event_notes"] = enotes

    all_events = events + [rec for _, _, rec in corpus_events]
    db, cols = load_db(all_events)
    n = len(events)
    by_rule = {}
    corpus_by_rule = {}
    sql_by_rule = {}
    failures = []
    for r in detections:
        rid = str(r.id) if r.id else (r.name or rel)
        try:
            queries = b.convert(SigmaCollection([r]))
        except Exception as e:  # noqa: BLE001
            failures.append({"rule": rel, "id": rid, "reason": f"{type(e).__name__}: {e}"})
            continue
        matched = set()
        for q in queries:
            try:
                matched.update(detection_matches(db, cols, q))
            except Exception as e:  # noqa: BLE001
                failures.append({"rule": rel, "id": rid, "reason": f"SQL failed: {type(e).__name__}: {e}"})
                matched = None
                break
        if matched is None:
            continue
        sql_by_rule[rid] = queries
        by_rule[rid] = sorted(i for i in matched if i < n)
        corpus_by_rule[rid] = sorted(i - n for i in matched if i >= n)
    result["sql"] = sql_by_rule
    result["matches_by_rule"] = by_rule
    result["corpus_matches_by_rule"] = corpus_by_rule
    gen = [r for r in detections if not corrs or getattr(r, "_generate", None)]
    reported = {str(r.id) if r.id else (r.name or rel) for r in (detections if not corrs else [])}
    result["matches"] = sorted({i for rid in reported for i in by_rule.get(rid, [])})
    result["corpus_matches"] = sorted({i for rid in reported for i in corpus_by_rule.get(rid, [])})
    del gen

    if corrs:
        # correlations run over the generated events only (their times are controlled)
        cdb, ccols = load_db(events)
        alerts = {}
        try:
            queries = b.convert(coll)
        except Exception as e:  # noqa: BLE001
            failures.append({"rule": rel, "id": main_id, "reason": f"correlation: {type(e).__name__}: {e}"})
            queries = []
        for corr, q in zip(corrs, queries):
            cid = str(corr.id)
            try:
                rows, names = run_query(cdb, ccols, q)
            except Exception as e:  # noqa: BLE001
                failures.append({"rule": rel, "id": cid, "reason": f"correlation SQL failed: {type(e).__name__}: {e}"})
                continue
            out = []
            seen = set()
            for row in rows:
                d = dict(zip(names, row))
                evs = sorted(int(x.split(":")[-1]) - 1 for x in json.loads(d.get("event_ids") or "[]"))
                gk = json.loads(d["group_keys"]) if d.get("group_keys") else {}
                key = (json.dumps(gk, sort_keys=True), tuple(evs))
                if key in seen:
                    continue
                seen.add(key)
                out.append({"group": gk, "events": evs})
            alerts[cid] = out
        result["correlations"] = alerts
        result["sql_correlations"] = queries
    if failures and not by_rule and not result.get("correlations"):
        return None, failures[0]
    if notes:
        result["notes"] = " ".join(notes)
    return result, failures


def rule_files(dirs):
    out = []
    for d in dirs:
        for p in sorted((REPO / d).rglob("*.yml")):
            out.append(str(p.relative_to(REPO)))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("rules", nargs="*", help="rule files (default: bundled rules and spec examples)")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.json"):
        old.unlink()

    corpus_events, skipped = corpus.load(CORPUS)
    (out / "corpus-events.json").write_text(
        json.dumps(
            {
                "about": "Real M365 UAL and Entra ID records shared by every rule; corpus_matches index into events.",
                "events": [
                    {"source": kind, "file": f, "record": rec} for kind, f, rec in corpus_events
                ],
                "skipped": skipped,
            },
            indent=1,
        )
        + "\n"
    )

    files = [str(Path(r).resolve().relative_to(REPO)) for r in args.rules] or rule_files(RULE_DIRS)
    index = {
        "generator": "scripts/sigma-diff/run.sh",
        "pysigma": version("pysigma"),
        "pysigma_backend_sqlite": version("pysigma-backend-sqlite"),
        "sqlite": sqlite3.sqlite_version,
        "conventions": {
            "events": "records as logged; generated events carry the rule's own field names (SigmaHQ m365 rules use eventSource/eventName/status, not UAL names), so they are offered to every rule: source 'generic', ignore_logsource true",
            "event_times": "generated events of correlation fixtures carry CreationTime (UTC) and their time here; null elsewhere",
            "matches": "indices into events that pySigma matched, for the detection rules that report (correlation base rules are in matches_by_rule only)",
            "corpus_matches": "indices into corpus-events.json",
            "correlations": "per correlation rule id: alerts, each the group-by values (lower-cased by the backend) and the indices of the events in the window",
            "sqlite_loading": "as Zircolite loads events: nested objects flattened to dotted column names, lists stored as text (JSON here, Python repr in Zircolite), a column INTEGER when its first value is an integer or boolean and TEXT COLLATE NOCASE otherwise, column names case-insensitive (keys differing only in case share a column), missing columns NULL, keyword search over _fulltext (every scalar value, one per line); correlations run over the generated events only",
        },
        "rules": [],
        "not_converted": [],
        "totals": {},
    }
    tot_events = tot_matches = tot_corpus = 0
    for rel in files:
        res, fail = process_file(rel, corpus_events)
        if res is None:
            index["not_converted"].append(fail)
            print(f"not converted: {rel}: {fail['reason'][:160]}", file=sys.stderr)
            continue
        if fail:
            index["not_converted"].extend(fail)
        fname = f"{res['id']}.json"
        (out / fname).write_text(json.dumps(res, indent=1, default=str) + "\n")
        tot_events += len(res["events"])
        tot_matches += len(res["matches"])
        tot_corpus += len(res["corpus_matches"])
        index["rules"].append(
            {
                "fixture": fname,
                "rule": rel,
                "ids": res["rule_ids"],
                "events": len(res["events"]),
                "matches": len(res["matches"]),
                "corpus_matches": len(res["corpus_matches"]),
                "correlation_alerts": {k: len(v) for k, v in res.get("correlations", {}).items()},
            }
        )
    index["corpus_events"] = {
        "file": "corpus-events.json",
        "count": len(corpus_events),
        "by_source": _count(k for k, _, _ in corpus_events),
    }
    index["totals"] = {
        "rule_files": len(files),
        "fixtures": len(index["rules"]),
        "not_converted": len(index["not_converted"]),
        "generated_events": tot_events,
        "generated_matches": tot_matches,
        "corpus_matches": tot_corpus,
    }
    (out / "index.json").write_text(json.dumps(index, indent=1) + "\n")
    print(json.dumps(index["totals"]))


def _count(it):
    d = {}
    for k in it:
        d[k] = d.get(k, 0) + 1
    return d


if __name__ == "__main__":
    yaml  # noqa: B018 - PyYAML comes with pySigma; imported to fail early if missing
    main()
