#!/usr/bin/env bash
# Installs the test-only npm oracles of tests/oracle (package.json / package-lock.json) when they are missing.
# Exits 0 when they are present, non-zero with a one-line reason when they cannot be installed (no node/npm,
# registry unreachable), so that the tests depending on them fail loudly instead of passing silently.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "ensure-npm: node and npm are required for the oracle tests (Hugging Face tokenizers and Jinja, llama.cpp) (run: make deps)" >&2
  exit 1
fi
stamp=node_modules/.finmerge-installed
# Every oracle package of package.json, and llama.cpp's prebuilt native module for this platform.
installed() {
  [[ -f node_modules/@huggingface/tokenizers/package.json && -f node_modules/@huggingface/jinja/package.json &&
     -f node_modules/@fugood/llama.node/package.json &&
     -f node_modules/@fugood/node-llama-linux-x64/index.node && -f $stamp && $stamp -nt package-lock.json ]]
}
if installed; then
  exit 0
fi
# Several test processes may get here at once: one installs, the others wait for it.
exec 9>"${TMPDIR:-/tmp}/finmerge-ensure-npm-$(id -u).lock"
flock 9
if installed; then
  exit 0
fi
if ! npm ci --no-audit --no-fund --loglevel=error >&2; then
  echo "ensure-npm: 'npm ci' failed in $(pwd): is the npm registry reachable? The oracle tests need" \
       "@huggingface/tokenizers, @huggingface/jinja and @fugood/llama.node (see package.json)" >&2
  exit 1
fi
touch "$stamp"
if ! installed; then
  echo "ensure-npm: 'npm ci' finished but @fugood/llama.node's native module" \
       "node_modules/@fugood/node-llama-linux-x64/index.node is missing (llama.node ships prebuilt linux-x64 only)" >&2
  exit 1
fi
