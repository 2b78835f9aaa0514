#!/bin/sh
# Runs inside a VM (bench/kmod.sh boots it): the same workloads traced by rewind.ko and by ftrace
# in this one kernel, with the same event classes enabled (scheduling, irq, softirq, every
# syscall). Untraced, rewind-traced and ftrace-traced runs alternate, REPS rounds, so that drift
# of the emulated machine hits all three alike; the best (least disturbed) time of each is kept.
# Prints one line per tracer and workload:
#   tracer workload events bytes ns_traced ns_untraced
# events and bytes cover all REPS traced runs.
set -eu
workload=$1
ctl=kmod/tools/rewindctl
ft=/sys/kernel/tracing/instances/rwbench
N_GETPPID=${N_GETPPID:-100000}
N_PINGPONG=${N_PINGPONG:-10000}
REPS=${REPS:-5}

now() { date +%s%N; }
once() { # workload -> ns
	s=$(now)
	case $1 in
	getppid) taskset -c 1 "$workload" getppid "$N_GETPPID" ;;
	pingpong) taskset -c 1 "$workload" pingpong "$N_PINGPONG" ;;
	esac
	echo $(($(now) - s))
}
min() { if [ -z "$1" ] || [ "$2" -lt "$1" ]; then echo "$2"; else echo "$1"; fi; }

probes=sched_switch,sched_waking,sched_wakeup,sched_wakeup_new,sched_process_fork
probes=$probes,sched_process_exec,sched_process_exit,sched_migrate_task,irq_handler_entry
probes=$probes,irq_handler_exit,softirq_entry,softirq_exit,sys_enter,sys_exit

busybox insmod kmod/rewind.ko
mkdir -p $ft
# 64 MiB per CPU for both: nothing is overwritten, every event is counted.
echo 65536 > $ft/buffer_size_kb
for e in sched/sched_switch sched/sched_waking sched/sched_wakeup sched/sched_wakeup_new \
	sched/sched_process_fork sched/sched_process_exec sched/sched_process_exit \
	sched/sched_migrate_task irq/irq_handler_entry irq/irq_handler_exit irq/softirq_entry \
	irq/softirq_exit raw_syscalls/sys_enter raw_syscalls/sys_exit; do
	echo 1 > $ft/events/$e/enable
done
echo 0 > $ft/tracing_on

for w in getppid pingpong; do
	$ctl configure --subbuf-size 1m --subbufs 64 --probes "$probes" >/dev/null
	echo > $ft/trace
	base= rw= ftr=
	i=0
	while [ $i -lt "$REPS" ]; do
		base=$(min "$base" "$(once $w)")
		$ctl start >/dev/null
		rw=$(min "$rw" "$(once $w)")
		$ctl stop >/dev/null
		echo 1 > $ft/tracing_on
		ftr=$(min "$ftr" "$(once $w)")
		echo 0 > $ft/tracing_on
		i=$((i + 1))
	done
	$ctl stats | tr ',{}' '\n\n\n' | awk -F: -v w=$w -v t="$rw" -v b="$base" '
		/"total"/ { total = 1 }
		total && /events_written/ { e = $2 } total && /bytes_written/ { by = $2 }
		END { print "rewind", w, e, by, t, b }'
	events=0
	bytes=0
	for s in $ft/per_cpu/cpu*/stats; do
		events=$((events + $(awk '/^entries:/ { print $2 }' $s) + $(awk '/^overrun:/ { print $2 }' $s)))
		bytes=$((bytes + $(awk '/^bytes:/ { print $2 }' $s)))
	done
	echo "ftrace $w $events $bytes $ftr $base"
done
rmdir $ft
busybox rmmod rewind
