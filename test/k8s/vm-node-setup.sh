#!/bin/bash
# Inside a test VM (vmNode.ts runs it as root): make the guest a node's machine and start its
# containerd. The guest's root is the host's, read-only over 9p; what a node writes goes to the
# node disk (vmNodeDisk.ts: containerd's root with the images already unpacked, attached with
# qemu's snapshot=on) and to tmpfs.
#
#   vm-node-setup.sh NODE_DIR GATEWAY DISK_MOUNT SOCKET [ARCHIVE...]
#
# NODE_DIR: the node's folder, shared with the host (containerd.toml, logs). GATEWAY: the host's
# address on the VM link. DISK_MOUNT: where the node disk goes (containerd.toml's root is below
# it). SOCKET: containerd's (containerd.toml's grpc address). ARCHIVEs: small images imported
# here (busybox, the pod sandbox).
set -euo pipefail
node_dir=$1 gateway=$2 disk=$3 socket=$4
shift 4

# The guest cannot load modules on demand (the kernel's helper would run the initramfs's
# modprobe, not the host root's), so everything the node needs is loaded now: the disk, its
# filesystem, containerd's snapshotter, the CNI bridge and its veth pairs.
modprobe -a virtio_blk ext4 overlay bridge veth

# The disk: containerd's root (containerd/), room for /var's changes.
mkdir -p "$disk" "$(dirname "$socket")"
for _ in $(seq 1 50); do [ -b /dev/vda ] && break; sleep 0.1; done
mount -t ext4 -o noatime /dev/vda "$disk"
# /var writable over the host's: the kubelet's root (/var/lib/kubelet, the chart's hostPaths),
# /var/log/pods, the CNI leases, the loader's module cache; the host's /var/cache/rewind (the
# kubelet's binary) stays visible below. An overlay upper cannot be on 9p: the disk holds it.
mkdir -p "$disk/var/upper" "$disk/var/work"
mount -t overlay overlay -o "lowerdir=/var,upperdir=$disk/var/upper,workdir=$disk/var/work" /var

# The host routes the pod networks and reaches the API server over the VM link; the user NIC
# (qemu's restricted network) keeps only the exec server's forwarded port, on its own subnet.
ip route replace default via "$gateway"
sysctl -qw net.ipv4.ip_forward=1

# containerd: its state and sockets on tmpfs (no Unix sockets on 9p), its log in the node's folder.
setsid containerd --config "$node_dir/containerd.toml" >>"$node_dir/containerd.log" 2>&1 </dev/null &
for _ in $(seq 1 600); do
  ctr --address "$socket" version >/dev/null 2>&1 && break
  sleep 0.2
done
ctr --address "$socket" version >/dev/null
for archive in "$@"; do
  ctr --address "$socket" --namespace k8s.io images import "$archive" >/dev/null
done
ctr --address "$socket" --namespace k8s.io images ls -q
