"""Compare stormwatch with the pySigma fixtures, through `stormwatch rules test`.

For every fixture: the generated events are written as NDJSON and offered to the fixture's rule
file as generic records with the log source ignored; the events stormwatch matched (or, for
correlation files, the events of its correlation alerts) are compared with pySigma's. The real
corpus records are compared too (pySigma's corpus_matches, all records generic, log source
ignored, so that field mapping plays no part).

Usage: compare.py STORMWATCH_BINARY [FIXTURE_DIR]
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
FIXTURES = REPO / "crates/sigma/tests/fixtures/pysigma"


def run(binary, rule, events_file):
    p = subprocess.run(
        [binary, "rules", "test", str(rule), "--events", str(events_file), "--source", "generic",
         "--ignore-logsource", "--format", "json"],
        capture_output=True, text=True, check=False,
    )
    if p.returncode not in (0, 1):
        raise RuntimeError(p.stderr.strip())
    return json.loads(p.stdout)


def lines_of(doc, key):
    out = set()
    for m in doc.get(key, []):
        loc = m["event"] if key == "matches" else None
        if loc is not None:
            out.add(int(loc.rsplit(":", 1)[1]) - 1)
    return out


def correlation_lines(doc):
    out = set()
    for d in doc.get("correlations", []):
        for loc in d.get("events", []):
            out.add(int(loc["line"]) - 1)
    return out


def main():
    binary = sys.argv[1]
    fixtures = Path(sys.argv[2]) if len(sys.argv) > 2 else FIXTURES
    corpus = json.loads((fixtures / "corpus-events.json").read_text())["events"]
    agree = disagree = c_agree = c_disagree = 0
    diffs = []
    with tempfile.TemporaryDirectory() as tmp:
        ev_file = Path(tmp) / "events.ndjson"
        corpus_file = Path(tmp) / "corpus.ndjson"
        corpus_file.write_text("".join(json.dumps(e["record"]) + "\n" for e in corpus))
        for f in sorted(fixtures.glob("*.json")):
            if f.name in ("index.json", "corpus-events.json"):
                continue
            fx = json.loads(f.read_text())
            rule = REPO / fx["rule"]
            ev_file.write_text("".join(json.dumps(e) + "\n" for e in fx["events"]))
            doc = run(binary, rule, ev_file)
            if doc.get("load_errors"):
                diffs.append(f"{fx['rule']}: does not load in stormwatch: {doc['load_errors'][0]['message']}")
                disagree += len(fx["events"])
                continue
            if fx.get("correlations"):
                want = {i for alerts in fx["correlations"].values() for a in alerts for i in a["events"]}
                got = correlation_lines(doc)
            else:
                want = set(fx["matches"])
                got = lines_of(doc, "matches")
            for i in range(len(fx["events"])):
                if (i in want) == (i in got):
                    agree += 1
                else:
                    disagree += 1
                    note = fx["event_notes"][i]
                    diffs.append(f"{fx['rule']} event {i} ({note}): pySigma {i in want}, stormwatch {i in got}: {json.dumps(fx['events'][i])[:160]}")
            if not fx.get("correlations"):
                cdoc = run(binary, rule, corpus_file)
                cwant = set(fx["corpus_matches"])
                cgot = lines_of(cdoc, "matches")
                for i in range(len(corpus)):
                    if (i in cwant) == (i in cgot):
                        c_agree += 1
                    else:
                        c_disagree += 1
                        diffs.append(f"{fx['rule']} corpus record {i} ({corpus[i]['file']}): pySigma {i in cwant}, stormwatch {i in cgot}")
    for d in diffs:
        print(d)
    print(json.dumps({"generated_events": {"agree": agree, "disagree": disagree},
                      "corpus_records": {"agree": c_agree, "disagree": c_disagree}}))


if __name__ == "__main__":
    main()
