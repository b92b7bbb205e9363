#!/usr/bin/env bash
# Installs the system tools the test suite needs when a fresh machine lacks them (Debian packages).
set -euo pipefail
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
# The dashboard's browser tests drive Debian's Chromium through playwright-core (no browser download).
[ -x /usr/bin/chromium ] || missing+=(chromium)
# promtool checks the alert rules, their unit tests and the /metrics exposition (deploy/prometheus).
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
# systemd-analyze verifies the unit file; dpkg-deb builds and unpacks the Debian package (deploy/).
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
command -v dpkg-deb >/dev/null 2>&1 || missing+=(dpkg)
# The store-box tests build network namespaces (test/support/netns-bed.ts): ip, nft, dnsmasq.
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v nft >/dev/null 2>&1 || missing+=(nftables)
command -v dnsmasq >/dev/null 2>&1 || missing+=(dnsmasq-base)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
