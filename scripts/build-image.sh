#!/usr/bin/env bash
# `npm run image`: the project's image, built for real with buildah from the Dockerfile as it is,
# and written as an archive a node's containerd loads:
#
#   ctr -n k8s.io images import "$(npm run -s image | tail -n 1)"
#
# gives docker.io/library/rewind:<appVersion> (charts/rewind/Chart.yaml), the name the chart's
# default image reference `rewind:<appVersion>` normalizes to. The archive's path is the last
# line of stdout; progress goes to stderr.
#
# Steps, each cached under ${REWIND_CACHE:-/var/cache/rewind}/images, outside the repository:
#   1. The base: a local stand-in for node:20-bookworm-slim (scripts/node-base-image.sh says how
#      and why it differs), kept as node-base-<node>-<suite>-<key>.oci.tar, keyed by what made it
#      (`node-base-image.sh --describe`: node and npm versions, the suite and mirrors, that
#      script, this machine's extra CAs), and in buildah's storage as
#      localhost/rewind-node-base:<node>-<suite>-<key>.
#   2. The image: the Dockerfile and the files it copies are staged (git's view of them: tracked
#      and untracked files, less what .gitignore ignores, as they are in the work tree), hashed,
#      and built from that snapshot, so an edit made during a build cannot slip in unhashed. The
#      archive is rewind-<appVersion>-<key>.tar (docker-archive), keyed by that hash (this
#      script is in scripts/, which the image copies), the base and the build arguments; an
#      unchanged tree finds it and builds nothing.
# Several processes may fill the cache at once: each entry has its own lock (<entry>.lock); one
# builds while the others wait, then find its result; everything is written under a temporary
# name and renamed into place. buildah's layer store (/var/lib/containers) is shared and does its
# own locking.
#
# Only the archive's key is a function of the tree: Debian's packages come from buildah's layer
# cache or, on a miss, today's archive. To refresh them, remove the archive and run with
# REWIND_IMAGE_NO_CACHE=1 (a build without the layer cache).
#
# Environment: REWIND_CACHE (cache root), REWIND_IMAGE_KEEP (image archives kept, default 3),
# REWIND_IMAGE_NO_CACHE=1 (build without buildah's layer cache), REWIND_IMAGE_KERNEL_HEADERS
# (the Dockerfile's PREBUILT_KERNEL_HEADERS; unset: its default).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${REWIND_CACHE:-/var/cache/rewind}/images"
keep="${REWIND_IMAGE_KEEP:-3}"

log() { printf '[image] %s\n' "$*" >&2; }
die() { printf '[image] error: %s\n' "$*" >&2; exit 1; }

[[ "$(id -u)" -eq 0 ]] || die "run as root (sudo npm run image): buildah's storage is root's (/var/lib/containers)"
need() { command -v "$1" >/dev/null 2>&1 || die "$1 not found: apt-get install $2"; }
need buildah buildah
need mmdebstrap mmdebstrap
need git git
need flock util-linux
mkdir -p "$cache" 2>/dev/null || die "cannot create $cache (set REWIND_CACHE to a writable directory)"

app_version="$(sed -n 's/^appVersion:[[:space:]]*"\{0,1\}\([^"[:space:]]*\)"\{0,1\}[[:space:]]*$/\1/p' "$root/charts/rewind/Chart.yaml")"
[[ -n "$app_version" ]] || die "no appVersion in charts/rewind/Chart.yaml"
image_name="docker.io/library/rewind:$app_version"

sha() { sha256sum | cut -c1-16; }

# What this process leaves behind if it stops half-way: its staged context and temporary files.
scratch=()
trap 'rm -rf "${scratch[@]}"' EXIT

# Takes the lock of a cache entry on file descriptor 9, waiting (and saying so) while another
# process holds it. The lock is released when the script exits.
lock_entry() {
  exec 9>"$1.lock"
  if ! flock -n 9; then
    log "waiting for another process building $(basename "$1") (lock: $1.lock)"
    flock 9
    log "done waiting for the other process"
  fi
}
unlock_entry() { flock -u 9; exec 9>&-; }

# Removes all but the newest $1 of the files given, skipping any whose lock another process holds.
prune() {
  local keep_n="$1" f
  shift
  # shellcheck disable=SC2012 # the names are ours, without newlines
  ls -1t -- "$@" 2>/dev/null | tail -n +"$((keep_n + 1))" | while read -r f; do
    if flock -n "$f.lock" rm -f "$f" "$f.lock"; then log "pruned $f"; fi
  done || true
}

# ---- 1. the base -------------------------------------------------------------------------------
description="$("$root/scripts/node-base-image.sh" --describe)" || die "cannot describe the base (see above)"
node_version="$(sed -n 's/^node=//p' <<<"$description")"
suite="$(sed -n 's/^suite=//p' <<<"$description")"
base_key="$(sha <<<"$description")"
base_tag="$node_version-$suite-$base_key"
base_name="localhost/rewind-node-base:$base_tag"
base_archive="$cache/node-base-$base_tag.oci.tar"

in_storage() { buildah inspect --type image "$1" >/dev/null 2>&1; }

if [[ -f "$base_archive" ]] && in_storage "$base_name"; then
  log "base: $base_name (cached: $base_archive)"
else
  lock_entry "$base_archive"
  if [[ -f "$base_archive" ]]; then
    log "base: found $base_archive"
  else
    if in_storage "$base_name"; then
      log "base: $base_name is in buildah's storage; archiving it"
    else
      log "base: building $base_name (node $node_version from this host, Debian $suite; about 2 minutes)"
      "$root/scripts/node-base-image.sh" "$base_name" ||
        die "the base image failed (see above); scripts/node-base-image.sh $base_name reruns it alone"
    fi
    scratch+=("$base_archive.$$.tmp")
    buildah push --quiet "$base_name" "oci-archive:$base_archive.$$.tmp:$base_name" >/dev/null ||
      die "cannot write $base_archive (disk full? see above)"
    mv -f "$base_archive.$$.tmp" "$base_archive"
    log "base: archived as $base_archive"
  fi
  if ! in_storage "$base_name"; then
    log "base: loading $base_archive into buildah's storage"
    id="$(buildah pull --quiet "oci-archive:$base_archive")" ||
      die "cannot load $base_archive (remove it and run again to rebuild the base)"
    buildah tag "$id" "$base_name"
  fi
  unlock_entry
  prune 2 "$cache"/node-base-*.oci.tar
fi

# ---- 2. the image ------------------------------------------------------------------------------
# The Dockerfile, its ignore file and what it copies (this script, the recipe, among them).
inputs=(Dockerfile .dockerignore package.json package-lock.json 'tsconfig*.json'
  agent controller common native kmod scripts)
stage="$(mktemp -d "$cache/.context.XXXXXX")"
scratch+=("$stage")
git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1 ||
  die "$root is not a git work tree: the build context is git's view of the files"
(cd "$root" && git ls-files -z --cached --others --exclude-standard -- "${inputs[@]}" |
  while IFS= read -r -d '' f; do [[ -e "$f" || -L "$f" ]] && printf '%s\0' "$f"; done |
  tar --null -T - -cf - | tar -xf - -C "$stage") ||
  die "cannot stage the build context in $stage (disk full?)"
build_args=()
[[ -z "${REWIND_IMAGE_KERNEL_HEADERS+set}" ]] ||
  build_args+=(--build-arg "PREBUILT_KERNEL_HEADERS=$REWIND_IMAGE_KERNEL_HEADERS")
image_key="$(
  {
    tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$stage" -cf - . | sha256sum
    echo "$base_name" "$image_name" "${build_args[@]}"
  } | sha
)"
archive="$cache/rewind-$app_version-$image_key.tar"

if [[ -f "$archive" ]]; then
  log "image: nothing changed; cached archive $archive"
  echo "$archive"
  exit 0
fi
lock_entry "$archive"
if [[ -f "$archive" ]]; then
  log "image: found $archive, built by the process we waited for"
  echo "$archive"
  exit 0
fi

log "image: building $image_name from the Dockerfile (context $image_key; buildah's layer cache may make this quick)"
started=$SECONDS
cache_flags=(--layers)
[[ "${REWIND_IMAGE_NO_CACHE:-0}" != 1 ]] || cache_flags=(--no-cache)
# --pull=never: the base is ours, in the storage; nothing is fetched from a registry.
buildah build "${cache_flags[@]}" --network host --pull=never --format docker \
  --build-arg "NODE_IMAGE=$base_name" "${build_args[@]}" \
  --iidfile "$stage/.iid" -f "$stage/Dockerfile" "$stage" >&2 ||
  die "buildah build failed (see its output above); a failing RUN line names the Dockerfile step"
image_id="$(cat "$stage/.iid")"
log "image: built ${image_id#sha256:} in $((SECONDS - started)) s; writing the archive"
# By id, not by a tag another build could move; the archive names the image itself.
scratch+=("$archive.$$.tmp")
buildah push --quiet "$image_id" "docker-archive:$archive.$$.tmp:$image_name" >/dev/null ||
  die "cannot write $archive (disk full? see above)"
mv -f "$archive.$$.tmp" "$archive"
log "image: $image_name in $archive ($(du -m "$archive" | cut -f1) MiB) after $((SECONDS - started)) s"
unlock_entry
prune "$keep" "$cache"/rewind-*.tar
echo "$archive"
