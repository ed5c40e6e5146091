#!/usr/bin/env python3
"""Precision and recall of `stormwatch hunt` at high/critical, against generator ground truth.

    scripts/score-seeds.py [--staff N] [--days N] [--builtin-only] [SEED ...]   (default: seeds 1 to 8)

For each seed: generates a scenario (UAL NDJSON + Graph sign-ins) with stormwatch-gen, runs the
default command (`stormwatch hunt -f jsonl`: the bundled Sigma rules and the built-in analytics
together) on it, and scores the records covered by high or critical detections against the
actor records of the ground truth (by record id):

- precision = actor records at high/critical / all records at high/critical (sign-ins and
  benign records included);
- recall = actor records at high/critical / actor records.

Then, per decoy class (what real tenants do that looks like the intrusion: migrations, backups,
archivers, eDiscovery, delegates, rollouts, shared mailboxes, night administrators, indicator
IPs outside their window), how many of its records reached high/critical on each seed, the
highest level any of them reached, and the precision the actor's records would have against
that class alone. `--staff N` makes every tenant N people larger (the intrusion stays the same
size, the decoys grow with the tenants). `--builtin-only` also scores the analytics alone
(`source: builtin`).

Needs a release build: `cargo build --release -p stormwatch -p stormwatch-gen`.
Exit status 1 when precision or recall is below 1.000 on any seed.
"""
import argparse
import json
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release"
HIGH = {"high", "critical"}
RANK = {"informational": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}


def ratio(num, den):
    return num / den if den else 1.0


def hunt(seed, staff, days, tmp):
    out = Path(tmp) / f"s{seed}"
    cmd = [BIN / "stormwatch-gen", "scenario", "--seed", str(seed), "--out", out,
           "--formats", "ndjson,signins-graph", "--compress", "none"]
    if staff:
        cmd += ["--staff", str(staff)]
    if days:
        cmd += ["--days", str(days)]
    subprocess.run(cmd, check=True, capture_output=True)
    truth = json.loads((out / "truth" / "truth.json").read_text())
    run = subprocess.run(
        [BIN / "stormwatch", "hunt", "-q", "-f", "jsonl", out / "ndjson", out / "signins-graph"],
        check=True, capture_output=True, text=True)
    lines = [json.loads(line) for line in run.stdout.splitlines() if line.strip()]
    # Detection lines only (incident lines group them and carry no records of their own).
    dets = [d for d in lines if d.get("type", "detection") == "detection"]
    return truth, dets


def levels_by_record(dets, source=None):
    """Highest level of any detection covering each record id."""
    best = {}
    for d in dets:
        if source is not None and d["source"] != source:
            continue
        r = RANK.get(d["level"], 0)
        for e in d["events"]:
            rid = e.get("record_id")
            if rid and best.get(rid, -1) < r:
                best[rid] = r
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("seeds", nargs="*", type=int)
    ap.add_argument("--staff", type=int, default=0)
    ap.add_argument("--days", type=int, default=0)
    ap.add_argument("--builtin-only", action="store_true")
    args = ap.parse_args()
    seeds = args.seeds or list(range(1, 9))
    names = {v: k for k, v in RANK.items()}

    per_class = defaultdict(lambda: {"records": 0, "high": {}, "top": -1})
    rows = []
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            truth, dets = hunt(seed, args.staff, args.days, tmp)
            actor = set(truth["actor_record_ids"])
            best = levels_by_record(dets)
            high = {r for r, lv in best.items() if lv >= RANK["high"]}
            tp = len(high & actor)
            p, r = ratio(tp, len(high)), ratio(tp, len(actor))
            failed |= p < 1.0 or r < 1.0
            row = [seed, truth["counts"]["ual_records"], truth["counts"]["signins"], len(actor),
                   len(high), tp, len(high) - tp, p, r]
            if args.builtin_only:
                b = levels_by_record(dets, "builtin")
                bh = {x for x, lv in b.items() if lv >= RANK["high"]}
                btp = len(bh & actor)
                row += [ratio(btp, len(bh)), ratio(btp, len(actor))]
            rows.append(row)
            decoy_ids = set()
            for d in truth["decoys"]:
                c = per_class[d["kind"]]
                ids = set(d["record_ids"])
                decoy_ids |= ids
                c["records"] += len(ids)
                c["high"][seed] = len(ids & high)
                c["top"] = max([c["top"]] + [best.get(x, -1) for x in ids])
                c.setdefault("tp", 0)
                c["tp"] += tp
            other = per_class["(other benign records)"]
            other["high"][seed] = len(high - actor - decoy_ids)
            other.setdefault("tp", 0)
            other["tp"] += tp

    head = f"{'seed':>4} {'UAL':>6} {'sign-ins':>8} {'actor':>5} {'at high':>7} {'TP':>5} {'FP':>5}  {'precision':>9} {'recall':>6}"
    if args.builtin_only:
        head += "   builtin P / R"
    print("default command (bundled rules + analytics), high/critical, record level")
    print(head)
    for row in rows:
        line = (f"{row[0]:>4} {row[1]:>6} {row[2]:>8} {row[3]:>5} {row[4]:>7} {row[5]:>5} "
                f"{row[6]:>5}  {row[7]:>9.3f} {row[8]:>6.3f}")
        if args.builtin_only:
            line += f"   {row[9]:.3f} / {row[10]:.3f}"
        print(line)
    print()
    print("decoy classes: records at high/critical per seed; highest level reached; precision of the actor against the class")
    cols = " ".join(f"{'s' + str(s):>4}" for s in seeds)
    print(f"{'class':<24} {'records':>7}  {cols}  {'highest':<13} {'precision':>9}")
    for kind in sorted(per_class, key=lambda k: (k.startswith("("), k)):
        c = per_class[kind]
        fp = sum(c["high"].values())
        counts = " ".join(f"{c['high'].get(s, 0):>4}" for s in seeds)
        top = names.get(c["top"], "none") if c["top"] >= 0 else "none"
        rec = c["records"] if not kind.startswith("(") else ""
        print(f"{kind:<24} {rec:>7}  {counts}  {top:<13} {ratio(c['tp'], c['tp'] + fp):>9.3f}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
