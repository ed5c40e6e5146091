#!/usr/bin/env python3
"""Precision and recall of `stormwatch hunt` against generator ground truth, per seed.

    scripts/score-seeds.py [SEED ...]          (default: seeds 1 to 8)

For each seed: generates a scenario (UAL NDJSON + Graph sign-ins) with stormwatch-gen, runs
`stormwatch hunt -f jsonl` on it, and scores the records covered by high or critical detections
against the actor records of the ground truth (by record id). Built-in analytics and all
detections (analytics + bundled Sigma rules) are scored separately. Needs a release build:
`cargo build --release -p stormwatch -p stormwatch-gen`.
"""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release"
HIGH = {"high", "critical"}


def score(covered, actor):
    tp = len(covered & actor)
    precision = tp / len(covered) if covered else 1.0
    recall = tp / len(actor) if actor else 1.0
    return precision, recall


def main():
    seeds = [int(s) for s in sys.argv[1:]] or list(range(1, 9))
    print(f"{'seed':>4} {'records':>8} {'actor':>6}  builtin P / R     all P / R     decoys at high")
    for seed in seeds:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "s"
            subprocess.run(
                [BIN / "stormwatch-gen", "scenario", "--seed", str(seed), "--out", out,
                 "--formats", "ndjson,signins-graph", "--compress", "none"],
                check=True, capture_output=True)
            truth = json.loads((out / "truth" / "truth.json").read_text())
            actor = set(truth["actor_record_ids"])
            run = subprocess.run(
                [BIN / "stormwatch", "hunt", "-q", "-f", "jsonl", out / "ndjson", out / "signins-graph"],
                check=True, capture_output=True, text=True)
            dets = [json.loads(line) for line in run.stdout.splitlines() if line.strip()]
            records = sum(1 for _ in open(out / "ndjson" / "ual.ndjson"))

            def covered(source):
                ids = set()
                for d in dets:
                    if d["level"] in HIGH and (source is None or d["source"] == source):
                        ids.update(e["record_id"] for e in d["events"] if e.get("record_id"))
                return ids

            b = covered("builtin")
            a = covered(None)
            decoy_ids = {r for dcy in truth["decoys"] for r in dcy.get("record_ids", [])}
            bp, br = score(b, actor)
            ap, ar = score(a, actor)
            print(f"{seed:>4} {records:>8} {len(actor):>6}  {bp:6.3f} / {br:5.3f}   {ap:6.3f} / {ar:5.3f}   "
                  f"{len(a & decoy_ids)}")


if __name__ == "__main__":
    main()
