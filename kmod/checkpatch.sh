#!/bin/bash
# Runs the kernel's checkpatch.pl (--strict) over the module's sources. checkpatch is not in the
# headers package: it comes from Debian's linux-source-6.1 tarball, extracted once into
# ${REWIND_CACHE:-/var/cache/rewind}/checkpatch. Extra arguments go to checkpatch.
set -euo pipefail
cd "$(dirname "$0")"
cache=${REWIND_CACHE:-/var/cache/rewind}/checkpatch
if [ ! -f "$cache/checkpatch.pl" ]; then
	tarball=$(ls /usr/src/linux-source-*.tar.xz 2>/dev/null | sort -V | tail -1)
	[ -n "$tarball" ] || {
		echo "checkpatch: no kernel source tarball: apt-get install linux-source-6.1" >&2
		exit 2
	}
	mkdir -p "$cache"
	src=$(basename "$tarball" .tar.xz)
	tar -xJf "$tarball" -C "$cache" --strip-components=2 \
		"$src/scripts/checkpatch.pl" "$src/scripts/spelling.txt" \
		"$src/scripts/const_structs.checkpatch"
fi
# Only the sources: no generated files (rewind.mod.c) and not the userspace tool's build. The
# test drivers of test/kmod/ that use the ABI are checked too (not fuzz.c and fuzz-abi.c: they
# poke at it).
exec perl "$cache/checkpatch.pl" --strict --no-tree -f --show-types "$@" \
	main.c session.c ring.c ring.h rewind.h events.h probes.c statedump.c metadata.c \
	device.c testhooks.c include/rewind/format.h include/uapi/rewind.h \
	tools/rewindctl.c tools/rewind-dev.h \
	../test/kmod/snapshot-check.c ../test/kmod/test-events.c ../test/kmod/workload.c \
	../test/kmod/uffd-copy.c
