#!/usr/bin/env bash
# A local stand-in for `node:20-bookworm-slim`, the Dockerfile's NODE_IMAGE, made on this machine:
#
#   scripts/node-base-image.sh NAME         commits the image to buildah's storage as NAME
#   scripts/node-base-image.sh --describe   prints what makes it (node, npm, suite, mirrors,
#                                           this recipe, the extra CAs), one `key=value` a line
#
# scripts/build-image.sh names and caches it by that description: run `npm run image`, not this.
# Why a stand-in: the official image comes from Docker Hub, which this machine cannot reach;
# Debian's archive and the npm registry are reachable, through an egress proxy that re-signs TLS
# with a CA of its own.
#
# What it shares with the official image: Debian bookworm, minimal (mmdebstrap's minbase, the
# slim variant's excluded paths for documentation, manuals and locales, the Debian images' apt
# and dpkg settings: downloaded packages deleted after each install, no translations), the apt
# sources deb.debian.org over http (bookworm, bookworm-updates, bookworm-security, main), node under
# /usr/local as the release tarball lays it out (bin/node, bin/npm, bin/npx, bin/corepack,
# lib/node_modules/{npm,corepack}, include/node, the nodejs link), the `node` user (1000:1000),
# the entry point docker-entrypoint.sh, CMD ["node"], NODE_VERSION.
#
# Where it differs, and why:
# - node, npm, corepack and the headers are this host's (the nodesource package of the same
#   Node.js 20 release), copied in: nodejs.org, where the official image downloads them from, is
#   not reachable. Same node version, another build of it; npm is whatever the host has (the
#   nodesource package updates it: 11.x at this writing, where the official image keeps the
#   release's own npm 10).
# - ca-certificates stays installed (the official image removes it after downloading node) and
#   holds this machine's extra CAs (/usr/local/share/ca-certificates/*.crt): npm ci inside the
#   build reaches the registry through the proxy, which only these CAs make trusted.
# - ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt: node (npm included) trusts that
#   bundle beside its own. The official image sets nothing of the kind.
# - ENV npm_config_nodedir=/usr/local: node-gyp builds the native addon against the headers in
#   /usr/local/include/node instead of downloading them from nodejs.org. The official image has
#   the same headers and would download anyway.
# - No yarn (the official image has yarn 1 in /opt): Rewind uses npm, and yarn is not on this
#   host to copy.
# - Debian's packages are today's from deb.debian.org, not the official image's build date.
# Every stage of the Dockerfile, the runtime included, inherits these; the two variables are
# harmless there (nothing at run time builds an addon, and the bundle holds Debian's CAs).
#
# Environment: REWIND_BASE_MIRROR (Debian mirror, default http://deb.debian.org/debian),
# REWIND_BASE_SECURITY_MIRROR (default http://deb.debian.org/debian-security).
set -euo pipefail

log() { printf '[node-base] %s\n' "$*" >&2; }
die() { printf '[node-base] error: %s\n' "$*" >&2; exit 1; }

[[ $# -eq 1 ]] || die "usage: $0 NAME|--describe (npm run image calls this)"
suite=bookworm
mirror="${REWIND_BASE_MIRROR:-http://deb.debian.org/debian}"
security_mirror="${REWIND_BASE_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
# Where this host's Node.js is (Debian's nodesource package lays it out under /usr).
node_bin=/usr/bin/node
node_modules=/usr/lib/node_modules
node_headers=/usr/include/node
extra_cas=/usr/local/share/ca-certificates

[[ -x "$node_bin" && -f "$node_modules/npm/bin/npm-cli.js" && -f "$node_headers/node_api.h" ]] ||
  die "this host's Node.js is incomplete: need $node_bin, $node_modules/npm and $node_headers (Debian's nodejs package from nodesource)"
node_version="$("$node_bin" --version)"

if [[ "$1" == --describe ]]; then
  echo "node=${node_version#v}"
  echo "npm=$("$node_bin" "$node_modules/npm/bin/npm-cli.js" --version)"
  echo "suite=$suite"
  echo "mirrors=$mirror $security_mirror"
  echo "recipe=$(sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1)"
  echo "cas=$(cat "$extra_cas"/*.crt 2>/dev/null | sha256sum | cut -d' ' -f1)"
  exit 0
fi
name="$1"

[[ "$(id -u)" -eq 0 ]] || die "run as root: mmdebstrap and buildah's storage (/var/lib/containers) need it"
for tool in mmdebstrap buildah; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found: apt-get install $tool"
done
work="$(mktemp -d "${TMPDIR:-/tmp}/rewind-node-base.XXXXXX")"
container=""
cleanup() {
  [[ -z "$container" ]] || buildah rm "$container" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# The official image's entry point: a first argument that is an option or no command runs node.
cat >"$work/docker-entrypoint.sh" <<'EOF'
#!/bin/sh
set -e

# Run command with node if the first argument contains a "-" or is not a system command. The last
# part inside the "{}" is a workaround for the following bug in ash/dash:
# https://bugs.debian.org/cgi-bin/bugreport.cgi?bug=874264
if [ "${1#-}" != "${1}" ] || [ -z "$(command -v "${1}")" ] || { [ -f "${1}" ] && ! [ -x "${1}" ]; }; then
  set -- node "$@"
fi

exec "$@"
EOF

# The official Debian images' apt and dpkg settings (debuerreotype's minimizing config): each
# apt-get install in a Dockerfile becomes a layer, so downloaded packages and apt's caches are
# deleted as soon as dpkg is done, no translations are fetched, suggestions do not keep packages
# installed, and dpkg does not fsync. Without docker-clean, every RUN that installs packages kept
# its .deb files: 128 MiB of the runtime's 307 MiB apt layer. With these, apt keeps no package
# cache either, so mmdebstrap's closing `apt-get clean` leaves the one it made: removed by hand.
cat >"$work/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };

Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
echo 'Acquire::Languages "none";' >"$work/docker-no-languages"
echo 'Acquire::GzipIndexes "true";' >"$work/docker-gzip-indexes"
echo 'Apt::AutoRemove::SuggestsImportant "false";' >"$work/docker-autoremove-suggests"
echo 'force-unsafe-io' >"$work/docker-apt-speedup"
# Services never start inside an image build (invoke-rc.d asks this first).
printf '#!/bin/sh\nexit 101\n' >"$work/policy-rc.d"

# The official debian:bookworm images' sources, in the same deb822 file.
cat >"$work/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security_mirror
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF

log "mmdebstrap $suite (minbase + ca-certificates) with node $node_version from this host"
started=$SECONDS
# The hooks are shell commands mmdebstrap runs on the host with the new root as $1 (hence the
# single quotes). The dpkg options are the slim variant's (debuerreotype's slimify list) and stay
# in the image, so later apt-get installs skip the same paths.
# shellcheck disable=SC2016
mmdebstrap --variant=minbase --include=ca-certificates \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/groff/*' \
  --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/linda/*' \
  --dpkgopt='path-exclude=/usr/share/lintian/overrides/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --customize-hook='rm -f "$1/etc/apt/sources.list"' \
  --customize-hook="cd $work && cp docker-clean docker-no-languages docker-gzip-indexes docker-autoremove-suggests \"\$1/etc/apt/apt.conf.d/\"" \
  --customize-hook='rm -f "$1"/var/cache/apt/*.bin' \
  --customize-hook="cp $work/docker-apt-speedup \"\$1/etc/dpkg/dpkg.cfg.d/\"" \
  --customize-hook="install -m 0755 $work/policy-rc.d \"\$1/usr/sbin/policy-rc.d\"" \
  --customize-hook="copy-in $work/debian.sources /etc/apt/sources.list.d" \
  --customize-hook="cp $extra_cas/*.crt \"\$1/usr/local/share/ca-certificates/\" 2>/dev/null || true" \
  --customize-hook='chroot "$1" update-ca-certificates' \
  --customize-hook='mkdir -p "$1/usr/local/bin" "$1/usr/local/lib/node_modules" "$1/usr/local/include"' \
  --customize-hook="copy-in $node_bin /usr/local/bin" \
  --customize-hook="copy-in $node_modules/npm /usr/local/lib/node_modules" \
  --customize-hook="[ ! -d $node_modules/corepack ] || cp -a $node_modules/corepack \"\$1/usr/local/lib/node_modules/\"" \
  --customize-hook="copy-in $node_headers /usr/local/include" \
  --customize-hook="copy-in $work/docker-entrypoint.sh /usr/local/bin" \
  --customize-hook='cd "$1/usr/local/bin" && chmod 0755 docker-entrypoint.sh && ln -s node nodejs
    ln -s ../lib/node_modules/npm/bin/npm-cli.js npm
    ln -s ../lib/node_modules/npm/bin/npx-cli.js npx
    [ ! -d ../lib/node_modules/corepack ] || ln -s ../lib/node_modules/corepack/dist/corepack.js corepack' \
  --customize-hook='chroot "$1" groupadd --gid 1000 node' \
  --customize-hook='chroot "$1" useradd --uid 1000 --gid node --shell /bin/bash --create-home node' \
  --customize-hook='chroot "$1" /usr/local/bin/node --version >/dev/null' \
  "$suite" "$work/rootfs.tar" "deb $mirror $suite main" >"$work/mmdebstrap.log" 2>&1 ||
  die "mmdebstrap failed (is $mirror reachable? apt-get update works on the host?); its log:
$(tail -n 30 "$work/mmdebstrap.log")"
log "root filesystem: $(du -m "$work/rootfs.tar" | cut -f1) MB in $((SECONDS - started)) s"

container="$(buildah from scratch)"
buildah add --quiet "$container" "$work/rootfs.tar" / >/dev/null
buildah config \
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env NODE_VERSION="${node_version#v}" \
  --env NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
  --env npm_config_nodedir=/usr/local \
  --entrypoint '["docker-entrypoint.sh"]' \
  --cmd '["node"]' \
  --label org.opencontainers.image.description="Rewind's local stand-in for node:20-bookworm-slim (scripts/node-base-image.sh)" \
  "$container"
buildah commit --quiet --rm "$container" "$name" >/dev/null
container=""
log "committed $name"
