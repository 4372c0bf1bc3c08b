#!/usr/bin/env bash
# The whole test suite: starts the real servers (tests/servers.sh), runs every test, stops the servers.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
command -v curl >/dev/null || { echo "tests need curl" >&2; exit 1; }
bash tests/servers.sh
trap 'bash tests/servers.sh stop' EXIT
# shellcheck disable=SC1091
source target/test-servers/env
cargo test --locked "$@"
