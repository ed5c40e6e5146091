#!/usr/bin/env bash
# End-to-end benchmarks of `stormwatch hunt` and `stormwatch impact` (release build).
#   Workload A: SigmaHQ Windows rules over the regression events replicated to 1,000,000.
#   Workload B: SigmaHQ m365 + azure rules over the corpus's M365/Entra records replicated to 1,000,000.
#   Generated:  a ~1.5 GB generated UAL + sign-in export (both files counted), hunt with and
#               without the analytics, impact.
# Prints events/s, MB/s and peak RSS for each, with `cat > /dev/null` as the read ceiling.
# Usage: scripts/bench-hunt.sh [--quick]   (--quick: 100,000 events and ~100 MB)
set -euo pipefail
cd "$(dirname "$0")/.."
CORPUS=${CORPUS:-testdata}
N=1000000; GEN_RECORDS=650000
if [ "${1:-}" = "--quick" ]; then N=100000; GEN_RECORDS=65000; fi
mkdir -p bench-data
cargo build --release -q -p stormwatch -p stormwatch-gen
SW=target/release/stormwatch
GEN=target/release/stormwatch-gen

python3 scripts/make-workloads.py --corpus "$CORPUS" --a "$N" --b "$N" >/dev/null
[ -f bench-data/gen.ndjson ] && [ "$(wc -l < bench-data/gen.ndjson)" -ge "$GEN_RECORDS" ] \
    || "$GEN" volume --records "$GEN_RECORDS" --out bench-data/gen.ndjson

measure() { # name records file[,file...] -- command...
    local name=$1 records=$2 files=$3; shift 4
    local bytes=0 f
    for f in ${files//,/ }; do bytes=$((bytes + $(stat -c %s "$f"))); done
    # Warm the page cache just before: the kernel may page out files left idle (DAMON), and
    # reading them back from disk would be measured instead.
    for f in ${files//,/ }; do cat "$f" > /dev/null; done
    local t0 t1; t0=$(date +%s.%N)
    /usr/bin/time -f "%M" -o bench-data/rss.txt "$@" >/dev/null 2>bench-data/stderr.txt \
        || { echo "$name: failed"; tail -n 5 bench-data/stderr.txt; return 0; }
    t1=$(date +%s.%N)
    python3 - "$name" "$records" "$bytes" "$t0" "$t1" "$(tail -n 1 bench-data/rss.txt)" <<'PY'
import sys
name, records, size, t0, t1, rss = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
s = t1 - t0
print(f"{name:<44} {s:7.2f} s {records / s:>12,.0f} events/s {size / s / 1e6:>8,.0f} MB/s  peak RSS {rss / 1024:,.0f} MiB")
PY
}

echo "machine: $(nproc) cores; stormwatch $($SW --version)"
for f in bench-data/workload-a.ndjson bench-data/workload-b.ndjson bench-data/gen.ndjson; do
    measure "cat $(basename "$f") > /dev/null" "$(wc -l < "$f")" "$f" -- cat "$f"
done
WIN_RULES=$(mktemp -d)
mkdir -p "$WIN_RULES/r"; cp -r "$CORPUS/sigma-rules/rules/windows" "$WIN_RULES/r/"
measure "A: SigmaHQ windows rules, regression x$N" "$N" bench-data/workload-a.ndjson -- \
    "$SW" hunt -q --no-default-rules --no-builtin --rules "$WIN_RULES/r" --format jsonl bench-data/workload-a.ndjson
# The ceiling for A on this machine: reading and normalising the events, no rule at all.
measure "A: read + normalise only, no rule" "$N" bench-data/workload-a.ndjson -- \
    "$SW" hunt -q --no-default-rules --no-builtin --format jsonl bench-data/workload-a.ndjson
CLOUD_RULES=$(mktemp -d)
cp -r "$CORPUS/sigma-rules/rules/cloud/m365" "$CORPUS/sigma-rules/rules/cloud/azure" "$CLOUD_RULES/"
measure "B: SigmaHQ m365+azure rules, corpus x$N" "$N" bench-data/workload-b.ndjson -- \
    "$SW" hunt -q --no-default-rules --no-builtin --rules "$CLOUD_RULES" --format jsonl bench-data/workload-b.ndjson
measure "B: same rules + analytics" "$N" bench-data/workload-b.ndjson -- \
    "$SW" hunt -q --no-default-rules --rules "$CLOUD_RULES" --format jsonl bench-data/workload-b.ndjson
measure "B: bundled rules + analytics (default hunt)" "$N" bench-data/workload-b.ndjson -- \
    "$SW" hunt -q --format jsonl bench-data/workload-b.ndjson
# UAL records (one per line) plus sign-ins (one per line inside {"records":[...]}).
GEN_N=$(( $(wc -l < bench-data/gen.ndjson) + $(grep -c '^{"time"' bench-data/gen.signins.json) ))
GEN_FILES=bench-data/gen.ndjson,bench-data/gen.signins.json
measure "generated: hunt, bundled rules, --no-builtin" "$GEN_N" "$GEN_FILES" -- \
    "$SW" hunt -q --no-builtin --format jsonl bench-data/gen.ndjson bench-data/gen.signins.json
measure "generated: hunt, bundled rules + analytics" "$GEN_N" "$GEN_FILES" -- \
    "$SW" hunt -q --format jsonl bench-data/gen.ndjson bench-data/gen.signins.json
measure "generated: impact --builtin-iocs" "$GEN_N" "$GEN_FILES" -- \
    "$SW" impact -q --builtin-iocs --format json bench-data/gen.ndjson bench-data/gen.signins.json
rm -rf "$WIN_RULES" "$CLOUD_RULES"
