#!/bin/bash
# `npm run bench` (kernel part): bytes and nanoseconds per event of rewind.ko next to ftrace, in
# the same VM run, on a getppid loop and a pipe ping-pong pinned to one vCPU. Figures, not
# assertions. Under qemu TCG every cost is inflated; compare the columns, not the absolute values.
# LTTng's published figures on this kind of machine (../shared/ANCHORS.md) are printed beside.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$PWD/test-output/bench-bin
mkdir -p "$bin"
gcc -O2 -Wall -o "$bin/workload" test/kmod/workload.c
for built in kmod/rewind.ko kmod/tools/rewindctl; do
	[ -f "$built" ] || { echo "bench: $built is not built: run npm run build" >&2; exit 1; }
done

echo "== kernel tracers, same VM run (qemu TCG, 2 vCPUs, workload pinned to vCPU 1)"
npm run -s vm -- --cpus 2 sh bench/kmod-guest.sh "$bin/workload" >"$bin/kmod.txt"
awk '
	BEGIN { lttng["getppid"] = 10.2; lttng["pingpong"] = 34.1 }
	NF == 6 && $3 > 0 {
		per = $4 / $3; ns = ($5 - $6) / $3
		printf "  %-7s %-9s %9d events  %6.2f B/event  %7.0f ns/event (traced %5.2f s, untraced %5.2f s)\n",
			$1, $2, $3, per, ns, $5 / 1e9, $6 / 1e9
		bpe[$1, $2] = per; cost[$1, $2] = ns
	}
	END {
		for (w in lttng) {
			if (!(("rewind", w) in bpe) || !(("ftrace", w) in bpe)) continue
			printf "  %-9s rewind/ftrace: %.2fx bytes, %.2fx cost; rewind/LTTng (published %.1f B): %.2fx bytes\n",
				w, bpe["rewind", w] / bpe["ftrace", w], cost["rewind", w] / cost["ftrace", w],
				lttng[w], bpe["rewind", w] / lttng[w]
		}
	}' "$bin/kmod.txt"
echo "  (LTTng itself is not run here: lttng-modules-dkms 2.13.9 does not build against this kernel"
echo "   as packaged; see ../shared/ANCHORS.md for the figures above.)"
