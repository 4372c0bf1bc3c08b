#!/usr/bin/env bash
# Whole-process wall time and peak RSS of `logmeter process` on the samples (release build), median of N runs.
# Then N different large batches (default 8) into one --out directory, one process each, as a backfill or a
# replay into a directory runs: the wall time of each, which must not grow with what the directory holds.
# Usage: bash benches/process.sh [runs] [batches]     (default 11, 8)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-11}
batches=${2:-8}
cargo build --release --locked --bin logmeter --example large_batches >/dev/null 2>&1
bin=target/release/logmeter
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%F)"
for sample in small large; do
  walls=(); rss=()
  for _ in $(seq "$runs"); do
    rm -rf "$out/o"
    /usr/bin/time -f '%e %M' -o "$out/t" "$bin" process "samples/events/$sample.json" --out "$out/o" >/dev/null
    read -r w m < "$out/t"
    walls+=("$w"); rss+=("$m")
  done
  median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
  minmax() { printf '%s\n' "$@" | sort -n | awk 'NR==1{lo=$1} {hi=$1} END {print lo "–" hi}'; }
  echo "$sample: wall median $(median "${walls[@]}") s ($(minmax "${walls[@]}")), peak RSS median $(median "${rss[@]}") KB ($(minmax "${rss[@]}")), $runs runs"
done
target/release/examples/large_batches "$batches" "$out/batches"
for round in 1 2 3; do
  rm -rf "$out/many"
  walls=()
  for i in $(seq 0 $((batches - 1))); do
    /usr/bin/time -f '%e' -o "$out/t" "$bin" process "$out/batches/batch-$i.json" --out "$out/many" >/dev/null
    walls+=("$(cat "$out/t")")
  done
  echo "$batches large batches into one directory, round $round: ${walls[*]} s"
done
