#!/usr/bin/env bash
# Headless Chromium for tests/browser.rs: installs Debian's chromium when it is missing.
# Idempotent; as another user than root it installs nothing, says so, and the browser tests skip.
set -euo pipefail
say() { echo "ensure-chromium.sh: $*" >&2; }

if command -v chromium >/dev/null; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  say "not root, so chromium is not installed and tests/browser.rs will skip"
  exit 0
fi
say "installing chromium"
install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
install || { apt-get update -qq && install; }
