#!/bin/sh
# One node of the demo, run inside a VM: load rewind.ko, record while a small workload runs
# (processes, file I/O, TCP over loopback), then take a snapshot into $1 — while still recording.
set -eu
out=$1

insmod kmod/rewind.ko
kmod/tools/rewindctl start >/dev/null
echo "$(hostname): recording"

# A workload worth looking at.
for i in 1 2 3 4 5; do sh -c "echo step $i > /tmp/step.$i && cat /tmp/step.$i >/dev/null"; done
dd if=/dev/zero of=/tmp/blob bs=64k count=64 2>/dev/null && sync
busybox nc -l -p 5000 >/tmp/received &
sleep 0.3
echo "hello from $(hostname)" | busybox nc -w 1 127.0.0.1 5000
wait
sleep 0.5

kmod/tools/rewindctl stats >"$out.stats.json"
kmod/tools/rewindctl snapshot "$out" >"$out.snapshot.json"
echo "$(hostname): snapshot taken while recording: $(cat "$out.snapshot.json")"
kmod/tools/rewindctl stop >/dev/null
rmmod rewind
