#!/usr/bin/env bash
# Peak memory of `stormwatch hunt` as the input grows: generated tenants (UAL export plus a
# separate sign-in export, `stormwatch-gen volume`) of increasing size, each hunted three
# ways: the default (bundled rules and analytics), rules only (--no-builtin) and analytics
# only (--no-default-rules). Prints the peak RSS of each run and how much it grew per GB of
# input between the smallest and the largest tenant: a bounded hunt grows by nothing.
# Usage: scripts/bench-hunt-memory.sh [RECORDS ...]   (default: 250000 500000 1000000 2000000)
# Inputs go to bench-data/memory-N/ (about 2.3 GB per million records; kept for the next run).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(250000 500000 1000000 2000000)
cargo build --release -q -p stormwatch -p stormwatch-gen
SW=target/release/stormwatch
GEN=target/release/stormwatch-gen
mkdir -p bench-data

echo "machine: $(nproc) cores; stormwatch $($SW --version); load: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-10s %9s %12s %12s %12s %10s\n' records "input MB" "default MiB" "rules MiB" "analyt. MiB" "default s"
declare -a MB DEF
for n in "${SIZES[@]}"; do
    dir=bench-data/memory-$n
    if [ ! -s "$dir/ual.ndjson" ]; then
        mkdir -p "$dir"
        "$GEN" volume --records "$n" --days 30 --out "$dir/ual.ndjson" --signins separate >/dev/null 2>&1
    fi
    bytes=$(du -cb "$dir"/*.ndjson "$dir"/*.json 2>/dev/null | tail -1 | cut -f1)
    cat "$dir"/* > /dev/null
    run() { # prints "peak_kib wall_s"
        /usr/bin/time -f '%M %e' -o bench-data/memory-time.txt "$SW" hunt -q "$@" --format jsonl -o /dev/null "$dir" \
            >/dev/null 2>bench-data/memory-stderr.txt || { tail -n 3 bench-data/memory-stderr.txt >&2; }
        tail -n 1 bench-data/memory-time.txt
    }
    read -r d ds < <(run)
    read -r r _ < <(run --no-builtin)
    read -r a _ < <(run --no-default-rules)
    mb=$((bytes / 1000000))
    printf '%-10s %9s %12s %12s %12s %10s\n' "$n" "$mb" "$((d / 1024))" "$((r / 1024))" "$((a / 1024))" "$ds"
    MB+=("$mb"); DEF+=("$((d / 1024))")
done
if [ ${#MB[@]} -ge 2 ]; then
    first=0; last=$((${#MB[@]} - 1))
    python3 -c "
mb0, mb1, r0, r1 = ${MB[$first]}, ${MB[$last]}, ${DEF[$first]}, ${DEF[$last]}
print(f'default hunt: {(r1 - r0) / max(mb1 - mb0, 1) * 1000:.0f} MiB more per GB of input between {mb0:,} and {mb1:,} MB')"
fi
