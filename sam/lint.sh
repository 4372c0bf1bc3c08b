#!/usr/bin/env bash
# Lints sam/template.yaml with cfn-lint and `sam validate --lint`, both offline. Installs them (pinned, from
# PyPI) into target/tools the first time. cfn-lint does not check the properties of SAM Kinesis events: the
# integration tests in tests/it/template.rs do.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/target/tools"
if [ ! -x "$venv/bin/sam" ] || [ ! -x "$venv/bin/cfn-lint" ]; then
  echo "installing cfn-lint and aws-sam-cli into $venv (PyPI)" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet 'cfn-lint==1.58.0' 'aws-sam-cli==1.170.0'
fi
export SAM_CLI_TELEMETRY=0
"$venv/bin/cfn-lint" "$root/sam/template.yaml"
"$venv/bin/sam" validate --lint --region us-east-1 -t "$root/sam/template.yaml"
