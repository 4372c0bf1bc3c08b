#!/usr/bin/env bash
# Builds the package SAM deploys (`sam build` with cargo-lambda, offline) for one architecture, x86_64 by default,
# and prints the bootstrap's size. Installs aws-sam-cli and cargo-lambda (pinned, from PyPI) into target/tools.
#
# `sam build` 1.170 cannot expand the template's `Fn::ForEach` (the per-log-group subscription filters; `sam
# validate` and CloudFormation can): the build reads a copy of the template without that block, in target/, where
# `CodeUri: ..` still names the repository. The function it builds is the template's own, unchanged.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
arch="${1:-x86_64}"
venv="$root/target/tools"
if [ ! -x "$venv/bin/sam" ] || [ ! -x "$venv/bin/cargo-lambda" ]; then
  echo "installing aws-sam-cli and cargo-lambda into $venv (PyPI)" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet 'cfn-lint==1.58.0' 'aws-sam-cli==1.170.0' 'cargo-lambda==1.9.2'
fi
python3 - "$root/sam/template.yaml" "$root/target/build-template.yaml" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
# The top-level resource `Fn::ForEach::Subscriptions:` and its indented body, up to the next resource.
cut = re.sub(r"^  Fn::ForEach::Subscriptions:\n(?:(?:    .*)?\n)+", "", text, count=1, flags=re.M)
assert cut != text and "Fn::ForEach" not in cut, "the subscriptions block was not found"
open(sys.argv[2], "w").write(cut)
PY
export SAM_CLI_TELEMETRY=0 SAM_CLI_BETA_RUST_CARGO_LAMBDA=1 PATH="$venv/bin:$PATH"
rm -rf "$root/target/sam-build"
start=$(date +%s)
sam build LogmeterFunction -t "$root/target/build-template.yaml" --build-dir "$root/target/sam-build" \
  --parameter-overrides "Architecture=$arch" "LogGroupNames=/aws/lambda/example"
bootstrap="$root/target/sam-build/LogmeterFunction/bootstrap"
echo "built $bootstrap for $arch in $(( $(date +%s) - start )) s: $(stat -c %s "$bootstrap") bytes"
