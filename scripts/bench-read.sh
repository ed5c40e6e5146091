#!/usr/bin/env bash
# Read + normalise throughput and peak memory of stormwatch-read, per input format.
#
#   scripts/bench-read.sh [SIZE_MB] [THREADS]
#
# Builds the bench binary (release), generates a ~SIZE_MB (default 1024) UAL export under
# bench-data/ (gitignored) in NDJSON, Management API JSON array, Purview CSV, gzip and zstd,
# then reports for each: the `cat file > /dev/null` rate (the ceiling), MB/s and records/s of
# read + normalise, and peak RSS (/usr/bin/time -v).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MB="${1:-1024}"
THREADS="${2:-0}"
DATA="bench-data/read-${SIZE_MB}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"

BIN=$(cargo bench -p stormwatch-read --bench read --no-run --message-format=json 2>/dev/null \
  | python3 -c 'import json,sys
for l in sys.stdin:
    m=json.loads(l)
    if m.get("reason")=="compiler-artifact" and m.get("executable") and m["target"]["name"]=="read":
        print(m["executable"])' | tail -1)
[ -x "$BIN" ] || { echo "bench binary not found" >&2; exit 1; }

if [ ! -f "$DATA/ual.ndjson.zst" ]; then
  "$BIN" gen "$DATA" "$SIZE_MB"
fi

echo "machine: $(nproc) cores, $(uname -m); threads: ${THREADS} (0 = all); load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "MB/s and records/s are wall-clock; 'cpu' is user+system seconds (MB of text / cpu = rate per busy core)"
ls -l "$DATA" | awk 'NR>1 {printf "  %-16s %8.0f MB\n", $9, $5/1e6}'
for f in ual.ndjson ual.json ual.csv ual.ndjson.gz ual.ndjson.zst; do
  path="$DATA/$f"
  cat "$path" > /dev/null   # warm the page cache
  start=$(date +%s.%N); cat "$path" > /dev/null; end=$(date +%s.%N)
  size=$(stat -c %s "$path")
  catrate=$(python3 -c "print(f'{$size/1e6/($end-$start):.0f}')")
  out=$(/usr/bin/time -v "$BIN" run "$path" "$THREADS" 2> /tmp/bench-read-time.$$)
  rss=$(awk -F: '/Maximum resident/ {gsub(/ /,"",$2); printf "%.0f", $2/1024}' /tmp/bench-read-time.$$)
  cpu=$(awk -F: '/User time|System time/ {s+=$2} END {printf "%.1f", s}' /tmp/bench-read-time.$$)
  echo "$out | cpu ${cpu} s | cat ${catrate} MB/s | peak RSS ${rss} MB"
done
rm -f /tmp/bench-read-time.$$
