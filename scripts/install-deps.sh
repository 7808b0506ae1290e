#!/usr/bin/env bash
# Installs every Debian package finmerge's build, tests, benchmarks and demo need.
# Idempotent: when everything is present it only runs dpkg queries (well under a second).
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  libopenblas-dev libdnnl-dev libomp-dev
  libopenmpi-dev openmpi-bin
  nlohmann-json3-dev libyaml-cpp-dev libcli11-dev
  libpcre2-dev libicu-dev libsentencepiece-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang-format
  python3 python3-numpy python3-torch
  nodejs
  chromium
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# The nodejs package of some images (NodeSource's) bundles npm and conflicts with Debian's npm.
if ! command -v npm >/dev/null 2>&1; then
  missing+=(npm)
fi

if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: need root to install packages (run: sudo $0)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
