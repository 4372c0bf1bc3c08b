#!/usr/bin/env bash
# Installs (once) and starts the real servers the integration tests talk to, on 127.0.0.1 only:
#   moto 5.2.5        S3 (and Secrets Manager), with signature checks on a second instance and IAM enforcement
#                     (switched on by the IAM test, POST /moto-api/reset-auth) on a third
#   osmem-server 0.1.6  OpenSearch 3 API
#   noida-db 0.2.3      Elasticsearch 8 API
#   prometheus (Debian)  remote write receiver, out-of-order window 30 days, no scrape jobs
#   prometheus-pushgateway (Debian)
#   chromium (Debian), installed only: the report test runs it headless
#   prism 5.14.2 (npm)   request validation against the vendors' published OpenAPI (tests/contracts/*/openapi.yaml)
# Writes target/test-servers/env (shell exports) and target/test-servers/pids. Stop them with `servers.sh stop`.
# With LOGMETER_TEST_OWNER_PID set (the integration tests do, when no servers were given), they stop when that
# process exits.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="$root/target/test-servers"
venv="$dir/venv"
mkdir -p "$dir"

stop() {
  if [ -f "$dir/pids" ]; then
    while read -r pid; do kill "$pid" 2>/dev/null || true; done < "$dir/pids"
    rm -f "$dir/pids"
  fi
}
if [ "${1:-}" = "stop" ]; then stop; exit 0; fi
stop

if [ ! -x "$venv/bin/moto_server" ] || [ ! -x "$venv/bin/noida-db" ]; then
  echo "installing test servers into $venv (PyPI)" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet 'moto[server]==5.2.5' 'osmem-server==0.1.6' 'noida-db==0.2.3'
fi

# Debian's Prometheus, Pushgateway and headless Chromium (the report test renders the HTML report) (apt; as root,
# or through sudo).
if ! command -v prometheus > /dev/null || ! command -v prometheus-pushgateway > /dev/null \
  || ! command -v chromium > /dev/null; then
  echo "installing prometheus, prometheus-pushgateway and chromium (apt)" >&2
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  { $sudo apt-get update && $sudo apt-get install -y --no-install-recommends prometheus prometheus-pushgateway chromium; } \
    > "$dir/apt.log" 2>&1 || { echo "apt-get could not install them; see $dir/apt.log" >&2; exit 1; }
  # The packages start their services where systemd runs; the tests use their own instances.
  $sudo systemctl stop prometheus prometheus-pushgateway > /dev/null 2>&1 || true
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
s3_port=$(free_port); s3_auth_port=$(free_port); s3_iam_port=$(free_port); os_port=$(free_port); es_port=$(free_port)
prom_port=$(free_port); pgw_port=$(free_port); prism_port=$(free_port)
: > "$dir/pids"
"$venv/bin/moto_server" -H 127.0.0.1 -p "$s3_port" > "$dir/moto.log" 2>&1 &
echo $! >> "$dir/pids"
# A second moto that authenticates every request: bad credentials are refused as real S3 refuses them.
INITIAL_NO_AUTH_ACTION_COUNT=0 "$venv/bin/moto_server" -H 127.0.0.1 -p "$s3_auth_port" > "$dir/moto-auth.log" 2>&1 &
echo $! >> "$dir/pids"
# A third moto for the IAM test: open until the test has made its users, then it checks every request against the
# caller's IAM policies (the test turns that on with POST /moto-api/reset-auth).
INITIAL_NO_AUTH_ACTION_COUNT=1000000 "$venv/bin/moto_server" -H 127.0.0.1 -p "$s3_iam_port" > "$dir/moto-iam.log" 2>&1 &
echo $! >> "$dir/pids"
prism="$dir/prism/node_modules/.bin/prism"
if [ ! -x "$prism" ]; then
  echo "installing prism into $dir/prism (npm)" >&2
  npm install --prefix "$dir/prism" --no-audit --no-fund --loglevel=error '@stoplight/prism-cli@5.14.2' \
    > "$dir/npm.log" 2>&1 || { echo "npm could not install prism; see $dir/npm.log" >&2; exit 1; }
fi

osmem=$("$venv/bin/python" -c 'import osmem_server; print(osmem_server.resolve_binary())')
"$osmem" -addr "127.0.0.1:$os_port" -no-stdin-watch < /dev/null > "$dir/osmem.log" 2>&1 &
echo $! >> "$dir/pids"
rm -rf "$dir/noida-data"
# The binary itself, not the `noida-db` script: the script runs it as a child, which stopping the script would leave
# running.
noida=$("$venv/bin/python" -c 'from importlib.resources import files; print(files("noida_db").joinpath("noida-db"))')
chmod +x "$noida"
"$noida" start --data-dir "$dir/noida-data" --host 127.0.0.1 --only elasticsearch --elasticsearch-port "$es_port" \
  < /dev/null > "$dir/noida.log" 2>&1 &
echo $! >> "$dir/pids"

# Prometheus with the remote write receiver and an out-of-order window (logmeter writes samples at their log time,
# and a retry can re-send older ones: the README's Prometheus section). No scrape jobs: every series is logmeter's.
rm -rf "$dir/prometheus-data"
cat > "$dir/prometheus.yml" <<YAML
global:
  scrape_interval: 1m
storage:
  tsdb:
    out_of_order_time_window: 30d
YAML
prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/prometheus-data" \
  --web.listen-address="127.0.0.1:$prom_port" --web.enable-remote-write-receiver --web.enable-admin-api \
  < /dev/null > "$dir/prometheus.log" 2>&1 &
echo $! >> "$dir/pids"
prometheus-pushgateway --web.listen-address="127.0.0.1:$pgw_port" < /dev/null > "$dir/pushgateway.log" 2>&1 &
echo $! >> "$dir/pids"
# Prism serves OpenMeter's published ingest operation and answers 400 to a body that breaks it.
"$prism" mock -h 127.0.0.1 -p "$prism_port" --errors "$root/tests/contracts/openmeter/openapi.yaml" \
  < /dev/null > "$dir/prism.log" 2>&1 &
echo $! >> "$dir/pids"

wait_for() {
  for _ in $(seq 1 100); do
    if curl -fs -o /dev/null "$1"; then return 0; fi
    sleep 0.2
  done
  echo "server at $1 did not start; logs in $dir" >&2
  return 1
}
wait_for "http://127.0.0.1:$s3_port/moto-api/"
wait_for "http://127.0.0.1:$s3_iam_port/moto-api/"
wait_for "http://127.0.0.1:$os_port/"
wait_for "http://127.0.0.1:$es_port/"
wait_for "http://127.0.0.1:$prom_port/-/ready"
wait_for "http://127.0.0.1:$pgw_port/-/ready"
for _ in $(seq 1 100); do
  curl -s -o /dev/null "http://127.0.0.1:$s3_auth_port/" && break
  sleep 0.2
done
# Prism answers 404 to a path its spec does not have: any answer means it is up.
for _ in $(seq 1 150); do
  curl -s -o /dev/null "http://127.0.0.1:$prism_port/" && break
  sleep 0.2
done

cat > "$dir/env" <<ENV
export LOGMETER_TEST_S3_URL=http://127.0.0.1:$s3_port
export LOGMETER_TEST_S3_AUTH_URL=http://127.0.0.1:$s3_auth_port
export LOGMETER_TEST_S3_IAM_URL=http://127.0.0.1:$s3_iam_port
export LOGMETER_TEST_OPENSEARCH_URL=http://127.0.0.1:$os_port
export LOGMETER_TEST_ELASTICSEARCH_URL=http://127.0.0.1:$es_port
export LOGMETER_TEST_PROMETHEUS_URL=http://127.0.0.1:$prom_port
export LOGMETER_TEST_PUSHGATEWAY_URL=http://127.0.0.1:$pgw_port
export LOGMETER_TEST_PRISM_OPENMETER_URL=http://127.0.0.1:$prism_port
ENV
# Started by a test process (a plain `cargo test`): stop these servers when it exits.
if [ -n "${LOGMETER_TEST_OWNER_PID:-}" ]; then
  # shellcheck disable=SC2046
  nohup bash -c 'owner=$1; shift; while kill -0 "$owner" 2>/dev/null; do sleep 1; done; kill "$@" 2>/dev/null' \
    watchdog "$LOGMETER_TEST_OWNER_PID" $(cat "$dir/pids") > /dev/null 2>&1 &
fi
echo "servers up: S3 :$s3_port (auth :$s3_auth_port, IAM :$s3_iam_port), OpenSearch :$os_port, Elasticsearch :$es_port," \
  "Prometheus :$prom_port, Pushgateway :$pgw_port, Prism (OpenMeter) :$prism_port" >&2
