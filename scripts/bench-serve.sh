#!/usr/bin/env bash
# The serve benchmark: sustained HTTP ingest, push-to-alert latency, memory over a soak,
# restart time with a large state. Release build, default rules and analytics, loopback only.
#
#   scripts/bench-serve.sh [RECORDS] [SOAK_SECONDS] [SOAK_RATE]
#
# RECORDS (default 1,500,000) generated records are pushed as NDJSON bodies of 5,000
# records over 2 keep-alive connections; then push-to-alert latency of single-record
# detections on the idle service; then a soak at SOAK_RATE records/s (default 3,000) for
# SOAK_SECONDS (default 600) with RSS sampled every 10 s and latency probed every second;
# then SIGTERM and a restart timed until /healthz answers and the journal is through.
# Environment: DAYS=N spreads the generated records over N days of event time (default 30);
# with more days than the detector holds (its `horizon`, 30 days, and never less than the
# analytics' longest look back, the 30-day baseline), the soak shows memory once the state
# behind the watermark is full. HORIZON=3d runs the service with that `[detect] horizon`;
# BUILTIN=0 without the built-in analytics. LOG_LEVEL sets the service's `[log] level` (a tracing
# filter) and SERVE_LOG=FILE keeps its log there.
set -euo pipefail
cd "$(dirname "$0")/.."
RECORDS=${1:-1500000}
SOAK=${2:-600}
RATE=${3:-3000}
SOAK_RECORDS=$((RATE * SOAK))
work=$(mktemp -d "${TMPDIR:-/tmp}/bench-serve.XXXXXX")
server=""
cleanup() {
    if [[ -n "$server" ]] && kill -0 "$server" 2>/dev/null; then kill "$server"; wait "$server" || true; fi
    if [[ -n "${SERVE_LOG:-}" && -f "$work/serve.log" ]]; then cp "$work/serve.log" "$SERVE_LOG"; fi
    rm -rf "$work"
}
trap cleanup EXIT

cargo build --release --locked -q -p stormwatch -p stormwatch-gen
bin=target/release/stormwatch
gen=target/release/stormwatch-gen
echo "# $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
echo "# $(git rev-parse --short HEAD) $($bin --version 2>/dev/null || true)"

# UAL records with sign-ins mixed in (as a collector forwarding both would send them), kept
# zstd-compressed; the push bodies are written out plain, the soak reads the rest as a stream.
ual=$(( (RECORDS + SOAK_RECORDS) * 10 / 13 + 10000 ))
$gen volume --records "$ual" --days "${DAYS:-30}" --signins mixed --compress zst --out "$work/all.ndjson" --seed 7 >/dev/null
mkdir "$work/bodies"
# (zstdcat stops on a closed pipe once head has what it needs.)
{ zstdcat "$work/all.ndjson.zst" 2>/dev/null || true; } | head -n "$RECORDS" |
    split -l 5000 -a 5 - "$work/bodies/b"
bytes=$(du -sb "$work/bodies" | cut -f1)
echo "# push: $RECORDS records (UAL with sign-ins mixed in) in $(ls "$work/bodies" | wc -l) NDJSON bodies, $((bytes / 1048576)) MiB"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
config=()
detect=()
[[ -n "${HORIZON:-}" ]] && detect+=("horizon = \"$HORIZON\"")
[[ "${BUILTIN:-}" == 0 ]] && detect+=("builtin = false")
if ((${#detect[@]})) || [[ -n "${LOG_LEVEL:-}" ]]; then
    { if ((${#detect[@]})); then printf '[detect]\n%s\n' "${detect[@]}"; fi
      if [[ -n "${LOG_LEVEL:-}" ]]; then printf '[log]\nlevel = "%s"\n' "$LOG_LEVEL"; fi
    } >"$work/stormwatch.toml"
    config=(--config "$work/stormwatch.toml")
    echo "# config: ${detect[*]} ${LOG_LEVEL:+log level $LOG_LEVEL}"
fi
start() {
    $bin serve "${config[@]}" --data-dir "$work/data" --listen "127.0.0.1:$port" >>"$work/serve.out" 2>>"$work/serve.log" &
    server=$!
}
wait_health() {
    local t0=$1
    until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do sleep 0.02; done
    python3 -c "import time; print(f'{time.time()-$t0:.2f}')"
}
rss_mib() { awk '/VmRSS/ {printf "%.0f", $2/1024}' "/proc/$server/status"; }
# The size of the detector's last saved checkpoint (MB): how its state grows.
checkpoint_mb() {
    curl -sf -H "Authorization: Bearer $(cat "$tok")" "http://127.0.0.1:$port/metrics" |
        awk '/^stormwatch_checkpoint_bytes / {printf "%.0f", $2 / 1e6}'
}
hwm_mib() { awk '/VmHWM/ {printf "%.0f", $2/1024}' "/proc/$server/status"; }

t0=$(date +%s.%N)
start
echo "startup_s $(wait_health "$t0")"
tok="$work/data/admin.token"
load=(python3 scripts/serve-load.py)

echo "## sustained HTTP ingest (NDJSON, 2 connections)"
"${load[@]}" push --port "$port" --token-file "$tok" --bodies "$work/bodies" --conns 2
echo "rss_after_push_mib $(rss_mib) peak_mib $(hwm_mib)"

echo "## push-to-alert latency, idle service (single-record detection)"
# Probes dated like the newest record pushed (the stream's present), so that the soak after
# them goes on in the same event time.
when=$(tail -n 1 "$(ls "$work/bodies"/b* | tail -n 1)" |
    python3 -c 'import json,sys; r=json.loads(sys.stdin.read()); print((r.get("CreationTime") or r.get("createdDateTime"))[:19])')
"${load[@]}" latency --port "$port" --token-file "$tok" --samples 200 --when "$when"

echo "## soak: $RATE records/s for ${SOAK}s, RSS every 10 s (MiB)"
rm -r "$work/bodies"
zstdcat "$work/all.ndjson.zst" | tail -n "+$((RECORDS + 1))" |
    "${load[@]}" stream --port "$port" --token-file "$tok" --file /dev/stdin \
        --records "$SOAK_RECORDS" --rate "$RATE" --batch 2000 >"$work/stream.json" &
streamer=$!
samples=()
states=()
while kill -0 "$streamer" 2>/dev/null; do
    samples+=("$(rss_mib)")
    states+=("$(checkpoint_mb)")
    sleep 10
done
wait "$streamer"
cat "$work/stream.json"
echo "rss_samples_mib ${samples[*]}"
echo "checkpoint_mb_at_samples ${states[*]}"
echo "peak_rss_mib $(hwm_mib)"

echo "## restart with the state above"
du -sh "$work/data" | awk '{print "data_dir " $1}'
t0=$(date +%s.%N)
kill -TERM "$server"
wait "$server" || true
python3 -c "import time; print(f'sigterm_to_exit_s {time.time()-$t0:.2f}')"
server=""
t0=$(date +%s.%N)
start
echo "restart_to_healthz_s $(wait_health "$t0")"
"${load[@]}" wait --port "$port" --token-file "$tok" | sed 's/^/restart_then_drained_s /'
python3 -c "import time; print(f'restart_total_s {time.time()-$t0:.2f}')"
grep -E "restored|Reading accepted" "$work/serve.log" | tail -2 || true
