#!/usr/bin/env bash
# Workload A side by side in one run: stormwatch against Chainsaw 2.16.4, the same SigmaHQ
# Windows rules (every rule of product windows under rules/, rules-emerging-threats/ and
# rules-threat-hunting/: 2,858) over the SigmaHQ regression events (238 evtx-dump JSON events)
# replicated to N. Prints wall time, events/s, peak RSS, detections and the ratios.
# Run from the project root after `cargo build --release`.
# Env: N (events, default 100000), RUNS (default 1), WORK (default /tmp/stormwatch-vs-chainsaw-a),
#      CORPUS (default ../shared/corpus or ../../shared/corpus), CHAINSAW (default $CORPUS/../peers/chainsaw),
#      STORMWATCH (default target/release/stormwatch).
set -euo pipefail
if [ -z "${CORPUS:-}" ]; then # the shared corpus beside the checkout (or beside its worktree folder)
  for c in ../shared/corpus ../../shared/corpus; do [ -d "$c" ] && CORPUS=$c && break; done
fi
[ -d "${CORPUS:-}" ] || { echo "set CORPUS to the shared corpus (../shared/corpus not found)"; exit 2; }
CORPUS=$(cd "$CORPUS" && pwd)
CHAINSAW=${CHAINSAW:-$CORPUS/../peers/chainsaw}
sw=${STORMWATCH:-$PWD/target/release/stormwatch}; N=${N:-100000}; RUNS=${RUNS:-1}
W=${WORK:-/tmp/stormwatch-vs-chainsaw-a}; mkdir -p "$W"
[ -x "$sw" ] || { echo "build first: cargo build --release ($sw missing)"; exit 2; }
[ -x "$CHAINSAW" ] || { echo "Chainsaw not found at $CHAINSAW (set CHAINSAW)"; exit 2; }

# The workload, the rules (copied, paths kept) and Chainsaw's field mapping, built once.
# Both tools read the same file: the events as evtx-dump JSON, one per line. Chainsaw needs a
# mapping from Sigma field names to document paths; it is generated from the fields the rules
# use (System fields to Event.System, the rest to Event.EventData), with the event's own
# TimeCreated as its timestamp. Chainsaw ignores the rules' log sources (none of its
# preconditions are given): it offers every event to every rule.
python3 - "$CORPUS" "$W" "$N" <<'PY'
import json, os, re, shutil, sys
corpus, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
sig = os.path.join(corpus, "sigma-rules")
events_out = os.path.join(out, f"workload-a-{n}.jsonl")
if not os.path.exists(events_out):
    dec = json.JSONDecoder(); events = []
    for t in json.load(open(os.path.join(corpus, "derived", "sigma-regression-index.json"))):
        p = os.path.join(sig, t["json_events_path"])
        if not os.path.exists(p):
            continue
        text = open(p, encoding="utf-8").read(); i = 0
        while True:
            while i < len(text) and text[i] in " \t\r\n,":
                i += 1
            if i >= len(text):
                break
            o, i = dec.raw_decode(text, i)
            events.extend(o if isinstance(o, list) else [o])
    lines = [json.dumps(e, ensure_ascii=False, separators=(",", ":")) for e in events]
    with open(events_out + ".tmp", "w", encoding="utf-8") as f:
        for k in range(n):
            f.write(lines[k % len(lines)] + "\n")
    os.replace(events_out + ".tmp", events_out)
def detection_fields(text):
    """The field names of a rule's detection: keys nested below its named selections."""
    inside, found = False, set()
    for line in text.splitlines():
        if re.match(r"\S", line):
            inside = line.startswith("detection:")
            continue
        m = re.match(r"^( +)(?:- +)?'?([A-Za-z][\w.\-]*)(?:\|[\w|]+)?'?:", line)
        if inside and m and (len(m.group(1)) > 4 or "- " in line[: len(m.group(1)) + 2]):
            found.add(m.group(2))
    return found
rules = os.path.join(out, "rules")
if not os.path.isdir(rules):
    fields = set()
    for top in ("rules", "rules-emerging-threats", "rules-threat-hunting"):
        for d, _, files in sorted(os.walk(os.path.join(sig, top))):
            for name in sorted(files):
                if not name.endswith(".yml"):
                    continue
                src = os.path.join(d, name)
                text = open(src, encoding="utf-8").read()
                if not re.search(r"^\s+product:\s*windows\s*$", text, re.M):
                    continue
                dst = os.path.join(rules + ".tmp", os.path.relpath(src, sig))
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                shutil.copyfile(src, dst)
                fields.update(detection_fields(text))
    system = {"EventID", "Channel", "Computer", "Level", "Keywords", "EventRecordID", "Task",
              "Opcode", "Version"}
    with open(os.path.join(out, "chainsaw-mapping-windows.yml"), "w", encoding="utf-8") as f:
        f.write("---\nname: Sigma field names to evtx-dump JSON paths\nkind: jsonl\nrules: sigma\n\n")
        f.write("groups:\n  - name: Sigma\n    timestamp: Event.System.TimeCreated.#attributes.SystemTime\n")
        f.write("    filter:\n      Provider: \"*\"\n    fields:\n")
        f.write("      - from: Provider\n        to: Event.System.Provider.#attributes.Name\n")
        f.write("      - from: Provider_Name\n        to: Event.System.Provider.#attributes.Name\n        visible: false\n")
        for name in sorted(fields - {"Provider", "Provider_Name"}):
            to = f"Event.System.{name}" if name in system else f"Event.EventData.{name}"
            f.write(f"      - from: {name}\n        to: {to}\n        visible: false\n")
    os.replace(rules + ".tmp", rules)
PY

ev="$W/workload-a-$N.jsonl"; rules="$W/rules"; map="$W/chainsaw-mapping-windows.yml"
nrules=$(find "$rules" -name '*.yml' | wc -l)
cat "$ev" >/dev/null
t() { # out-file command...: wall seconds and peak RSS (KiB) from /usr/bin/time -v
  local o=$1; shift
  /usr/bin/time -v -o "$W/time.txt" "$@" >"$o" 2>"$W/stderr.txt" || true
  python3 - "$W/time.txt" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
m = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", t)
wall = int(m.group(1) or 0) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
print(f"{wall:.2f}", re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1))
PY
}
declare -A wall rss
# Chainsaw without -q: with it, its JSON output was cut short (2.16.4, -o FILE).
for i in $(seq "$RUNS"); do
  read -r a b < <(t "$W/sw.out" "$sw" hunt -q --no-default-rules --no-builtin --rules "$rules" --format jsonl -o "$W/sw.jsonl" "$ev"); wall[sw]+="$a "; rss[sw]+="$b "
  read -r a b < <(t "$W/cs.out" "$CHAINSAW" hunt "$ev" -s "$rules" --mapping "$map" --load-unknown --json -o "$W/cs.json" --skip-errors); wall[cs]+="$a "; rss[cs]+="$b "
done
python3 - "$N" "$nrules" "$W/sw.jsonl" "$W/cs.json" "${wall[sw]}" "${wall[cs]}" "${rss[sw]}" "${rss[cs]}" <<'PY'
import json, statistics as st, sys
n, nrules = int(sys.argv[1]), int(sys.argv[2])
sw_det = sum(1 for line in open(sys.argv[3], encoding="utf-8") if line.strip())
cs = json.load(open(sys.argv[4], encoding="utf-8"))
cs_det = len(cs)  # Chainsaw's JSON: one object per (rule, document) hit
w = [list(map(float, s.split())) for s in sys.argv[5:7]]; r = [list(map(int, s.split())) for s in sys.argv[7:9]]
print(f"workload A: {n:,} events, {nrules:,} SigmaHQ Windows rules; {len(w[0])} run(s) each, medians")
for nm, ws, rs, d in zip(["stormwatch", "Chainsaw 2.16.4"], w, r, [sw_det, cs_det]):
    m = st.median(ws)
    print(f"{nm:16s} {m:8.2f} s  {n/m:9,.0f} events/s  peak RSS {st.median(rs)/1024:5.0f} MiB  detections {d:>9,}  (runs {min(ws):.2f}-{max(ws):.2f} s)")
print(f"ratio: {st.median(w[1])/st.median(w[0]):.1f}x Chainsaw (wall); peak RSS {st.median(r[0])/st.median(r[1]):.2f} of Chainsaw's")
PY
