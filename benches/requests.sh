#!/usr/bin/env bash
# What users pay for: requests per 10,000 meter records, bulk requests per batch, and the wall time of
# `logmeter process` (the handler the Lambda runs) with LATENCY ms added to every S3 and search request by the
# fault proxy (examples/fault_proxy.rs), against the test servers (moto, osmem-server) on 127.0.0.1.
#
# Variants, measured in the same run: BASELINE (a git revision, default e6692f2, the last one with one object and
# one bulk request per Kinesis record), and this tree with INGEST_LAYOUT=record and with the default batch layout.
# Samples: sparse.json (500 records of 1-3 log events) and large.json (291 dense records).
#
# Usage: bash benches/requests.sh [runs]     (default 5; LATENCY=30 BASELINE=e6692f2)
# Builds both revisions with release settings but without LTO (build time; the CPU path is not what is measured).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
runs=${1:-5}
latency=${LATENCY:-30}
baseline=${BASELINE:-e6692f2}
export CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
cargo build --release --locked --bin logmeter --example fault_proxy >&2
base="$root/target/bench-baseline/$baseline"
if [ ! -x "$base/target/release/logmeter" ]; then
  rm -rf "$base/src" && mkdir -p "$base/src"
  git archive "$baseline" | tar -x -C "$base/src"
  (cd "$base/src" && CARGO_TARGET_DIR="$base/target" cargo build --release --locked --bin logmeter >&2)
fi

LOGMETER_TEST_OWNER_PID=$$ bash tests/servers.sh >&2
# shellcheck disable=SC1091
source target/test-servers/env
tmp=$(mktemp -d)
proxies=()
cleanup() { kill "${proxies[@]}" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
proxy() { # upstream name -> url in $tmp/name
  target/release/examples/fault_proxy "$1" "$latency" > "$tmp/$2" &
  proxies+=($!)
  until [ -s "$tmp/$2" ]; do sleep 0.05; done
}
proxy "$LOGMETER_TEST_S3_URL" s3
proxy "$LOGMETER_TEST_OPENSEARCH_URL" search
s3=$(cat "$tmp/s3"); search=$(cat "$tmp/search")

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%F); $latency ms per request; $runs runs"
printf '%-22s %-7s %7s %6s %5s %5s %5s %5s %9s %12s %s\n' variant sample meters PUT LIST GET HEAD bulk "S3/10k" "search/10k" "wall ms median (min-max)"
n=0
for sample in sparse large; do
  for variant in "baseline $baseline" "record layout" "batch layout"; do
    case $variant in
      baseline*) bin="$base/target/release/logmeter"; layout=record ;;
      record*) bin=target/release/logmeter; layout=record ;;
      batch*) bin=target/release/logmeter; layout=batch ;;
    esac
    walls=()
    for _ in $(seq "$runs"); do
      n=$((n + 1))
      bucket="bench-$$-$n"
      curl -fs -X PUT "$LOGMETER_TEST_S3_URL/$bucket" > /dev/null
      curl -fs -X POST "$s3/__proxy/reset" > /dev/null
      curl -fs -X POST "$search/__proxy/reset" > /dev/null
      start=$(date +%s%N)
      AWS_REGION=eu-west-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_ENDPOINT_URL_S3="$s3" \
        INGEST_BUCKET_NAME="$bucket" INGEST_LAYOUT="$layout" SEARCH_URL="$search" \
        SEARCH_INDEX_PATTERN="bench-$$-$n-%Y.%m.%d" \
        "$bin" process "samples/events/$sample.json" > "$tmp/summary"
      walls+=($(( ($(date +%s%N) - start) / 1000000 )))
    done
    s3c=$(curl -fs "$s3/__proxy/counts"); sc=$(curl -fs "$search/__proxy/counts")
    python3 - "$variant" "$sample" "$tmp/summary" "$s3c" "$sc" "${walls[@]}" <<'PY'
import json, statistics, sys
variant, sample, summary, s3, search = sys.argv[1:6]
walls = sorted(int(w) for w in sys.argv[6:])
meters = json.load(open(summary))["meter_records"]
s3, search = json.loads(s3), json.loads(search)
s3_total = sum(s3.values())
search_total = sum(search.values())
per10k = lambda n: f"{n * 10000 / meters:,.0f}"
print(f"{variant:<22} {sample:<7} {meters:>7} {s3.get('Put', 0):>6} {s3.get('List', 0):>5} {s3.get('Get', 0):>5} "
      f"{s3.get('Head', 0):>5} {search.get('Bulk', 0):>5} {per10k(s3_total):>9} {per10k(search_total):>12} "
      f"{statistics.median(walls):.0f} ({walls[0]}-{walls[-1]})")
PY
  done
done
