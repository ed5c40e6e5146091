#!/usr/bin/env python3
"""Build the benchmark workloads from the shared corpus by replicating real records.

Workload A: the SigmaHQ regression events (Windows, evtx-dump JSON) replicated to N events.
Workload B: the corpus's M365 UAL and Entra ID records (including the Panther extracts' `log`
objects) replicated to N records. Both as NDJSON under bench-data/.

Usage: scripts/make-workloads.py [--corpus testdata] [--a 1000000] [--b 1000000]
"""
import argparse
import json
import os
import sys


def iter_json_docs(path):
    """Yield every JSON value in a file: NDJSON, a JSON array, or concatenated objects."""
    text = open(path, encoding="utf-8").read()
    dec = json.JSONDecoder()
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " \t\r\n,":
            i += 1
        if i >= n:
            break
        try:
            obj, j = dec.raw_decode(text, i)
        except json.JSONDecodeError:
            # skip to next line (e.g. the published Graph sample with a trailing comma)
            nl = text.find("\n", i)
            if nl < 0:
                break
            i = nl + 1
            continue
        i = j
        if isinstance(obj, list):
            yield from obj
        else:
            yield obj


def unwrap(obj):
    if isinstance(obj, dict) and "log" in obj and "source" in obj and "panther" in str(obj.get("source")):
        return [obj["log"]]
    if isinstance(obj, dict) and isinstance(obj.get("records"), list):
        return obj["records"]
    if isinstance(obj, dict) and isinstance(obj.get("value"), list):
        return obj["value"]
    return [obj]


def write_replicated(records, n, out):
    lines = [json.dumps(r, separators=(",", ":")) for r in records]
    with open(out, "w", encoding="utf-8") as f:
        for i in range(n):
            f.write(lines[i % len(lines)])
            f.write("\n")
    size = os.path.getsize(out)
    print(f"{out}: {n} records from {len(lines)} distinct, {size / 1e6:.1f} MB")


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--corpus", default=os.path.join(here, "..", "testdata"))
    ap.add_argument("--out", default=os.path.join(here, "..", "bench-data"))
    ap.add_argument("--a", type=int, default=1_000_000)
    ap.add_argument("--b", type=int, default=1_000_000)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    index = json.load(open(os.path.join(args.corpus, "derived", "sigma-regression-index.json")))
    a_events = []
    for t in index:
        p = os.path.join(args.corpus, "sigma-rules", t["json_events_path"])
        if os.path.exists(p):
            a_events.extend(iter_json_docs(p))
    if not a_events:
        sys.exit("no regression events found")
    write_replicated(a_events, args.a, os.path.join(args.out, "workload-a.ndjson"))

    b_records = []
    for sub in ("m365-ual", "entra-id"):
        root = os.path.join(args.corpus, "logs", sub)
        for dirpath, _, files in sorted(os.walk(root)):
            for name in sorted(files):
                if name.endswith((".json", ".jsonl", ".ndjson")):
                    for obj in iter_json_docs(os.path.join(dirpath, name)):
                        b_records.extend(r for r in unwrap(obj) if isinstance(r, dict))
    write_replicated(b_records, args.b, os.path.join(args.out, "workload-b.ndjson"))


if __name__ == "__main__":
    main()
