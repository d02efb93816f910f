#!/usr/bin/env bash
# Runs the whole test suite. Installs the system packages the tests need when they are missing
# (Debian, idempotent), then runs cargo's tests. Tests never skip for a missing tool: they fail.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests use: binutils (readelf, for the ELF agreement test); docker-registry
# and skopeo (tests/registry.rs starts a registry on 127.0.0.1 and pushes fixtures to it);
# pax-utils with python3-pyelftools (lddtree), umoci (unpacks a whole image), musl-tools and gcc
# (build small programs): tests/it/slim.rs; docker.io (a private dockerd builds slim's Dockerfile:
# tests/it/slim_docker.rs); openssl, ca-certificates and dash (the host binaries slim's tests build
# images from).
packages=(binutils docker-registry skopeo pax-utils python3-pyelftools umoci musl-tools gcc docker.io openssl ca-certificates dash)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}"
fi

if cargo nextest --version >/dev/null 2>&1; then
  # (the crate has no doctests, which nextest would not run)
  cargo nextest run --no-fail-fast "$@"
else
  cargo test --no-fail-fast "$@"
fi
