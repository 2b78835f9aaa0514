#!/bin/bash
# `npm run demo`: two nodes — two VMs running Debian's kernel — record their kernels with
# rewind.ko, take flight-recorder snapshots without stopping, and babeltrace2 reads both as one
# timeline. Everything shown is real: the module runs in the VMs, the traces are its own.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$PWD/test-output/demo
rm -rf "$out"
mkdir -p "$out"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "booting two nodes (qemu, Debian's kernel $(ls /boot | sed -n 's/^vmlinuz-//p' | sort -V | tail -1)), loading rewind.ko, recording a workload"
pids=()
for node in node-a node-b; do
	npm run -s vm -- --name "$node" --out "$out" sh scripts/demo-node.sh "$out/$node" &
	pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done

for node in node-a node-b; do
	say "$node: what its flight recorder held (babeltrace2 $out/$node)"
	babeltrace2 "$out/$node" >"$out/$node.txt"
	awk '{ for (i = 1; i <= NF; i++) if ($i ~ /:$/ && $i !~ /^\{/) { sub(/:$/, "", $i); n[$i]++; break } }
		END { for (e in n) printf "  %-24s %7d\n", e, n[e] }' "$out/$node.txt" | sort -k2 -nr
	printf '  %s events, %s bytes of trace; recorder stats in %s\n' \
		"$(wc -l <"$out/$node.txt")" "$(cat "$out/$node"/stream_* | wc -c)" "$out/$node.stats.json"
	echo "  the TCP segments of the workload (ports 5000):"
	grep -E 'tcp4.*(sport|dport) = 5000' "$out/$node.txt" | head -n 3 | sed 's/^/    /'
	echo "  processes named by the state dump taken right before the snapshot:"
	grep -E 'statedump_process' "$out/$node.txt" | grep -oE 'comm = "[^"]*"' | sort -u | head -n 8 |
		tr '\n' ' ' | sed 's/^/    /'
	echo
done

say "one cluster trace: rewind-trace merge $out/cluster $out/node-a $out/node-b"
node native/bin/rewind-trace.js merge --chrome "$out/cluster.json" --summary "$out/summary.json" \
	"$out/cluster" "$out/node-a" "$out/node-b"
node native/bin/rewind-trace.js validate "$out/cluster"
babeltrace2 "$out/cluster" >"$out/cluster.txt"
echo "  babeltrace2 reads it as one time-ordered stream; where the recordings overlap, events"
echo "  alternate between the nodes:"
awk '{ print $3 }' "$out/cluster.txt" | uniq -c | awk '{ printf "    %6d events from %s\n", $1, $2 }' |
	sed -n '2,9p'
printf '  %s events in all: %s\n' "$(wc -l <"$out/cluster.txt")" "$out/cluster.txt"
echo "  the Perfetto UI (Open trace file) shows $out/cluster.json"
echo "  Trace Compass or babeltrace2: $out/cluster/"
