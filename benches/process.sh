#!/usr/bin/env bash
# Whole-process wall time and peak RSS of `logmeter process` on the samples (release build), median of N runs.
# Usage: bash benches/process.sh [runs]     (default 11)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-11}
cargo build --release --locked --bin logmeter >/dev/null 2>&1
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
