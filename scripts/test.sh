#!/usr/bin/env bash
# Runs the whole test suite. Installs the system packages the tests need when they are missing
# (Debian, idempotent), then runs cargo's tests. Tests never skip for a missing tool: they fail.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests use, one per line with what needs it.
packages=(
  binutils           # readelf: the ELF agreement test
  docker-registry    # tests/it/registry.rs: a registry on 127.0.0.1
  skopeo             # pushes the fixtures into it
  docker.io          # tests/it/local.rs and slim_docker.rs: a private dockerd
  openssl            # the certificates of its TLS endpoint; slim's libssl case
  podman             # tests/it/local.rs: a podman API service
  libisal-dev        # the opt-in `isal` gzip decoder's unit tests (.ci/run)
  chromium           # tests/it/html.rs: the HTML reports opened in headless Chromium
  tmux               # tests/it/explore.rs: explore in a private tmux server, its screen read
  pax-utils          # tests/it/slim.rs: lddtree, the closure's independent check
  python3-pyelftools # lddtree's ELF reader
  umoci              # tests/it/slim.rs: unpacks a whole image to compare against
  musl-tools         # tests/it/slim.rs: small musl programs built at test time
  gcc                # and glibc ones
  ca-certificates    # slim's CA-bundle case (an image built from the host's openssl)
  dash               # slim's shell-script entrypoint case
)
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
