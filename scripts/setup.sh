#!/bin/bash
# Installs what Rewind needs on a Debian 12 machine and builds the tree: Debian packages (only
# the missing ones), npm dependencies (when package-lock.json changed), the control-plane
# binaries (cached outside the repository), then `npm run build`. Idempotent, and quick when
# everything is there. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
	echo "setup: run me as root (sudo $0): I install Debian packages and build a kernel module" >&2
	exit 1
fi

say() { printf 'setup: %s\n' "$*"; }

# Debian packages, each with the reason it is here.
packages=(
	build-essential python3 make g++ # the native addon (node-gyp) and the kernel module
	linux-libc-dev # asm/unistd_64.h: the system call names' source (native/tools/gen-syscalls.js)
	linux-image-amd64 linux-headers-amd64 kmod # the kernel the VMs boot, and its build tree
	linux-source-6.1 # checkpatch.pl (kmod/checkpatch.sh)
	qemu-system-x86 busybox-static cpio file xz-utils zstd # the VM harness
	libgtest-dev ccache # the native core's unit tests; ccache keeps their objects across clones
	clang libclang-rt-14-dev # the native decoder's fuzzer and sanitizer builds
	babeltrace2 # the judge of every trace
	iproute2 # network namespaces for multi-host tests
	vde2 # vde_switch, vde_plug2tap: the private network between test VMs and the host (test/vm/switch.ts)
	etcd-server prometheus prometheus-alertmanager # the real parts of the Kubernetes tests
	containerd runc containernetworking-plugins iptables conntrack # the test cluster's real node
	e2fsprogs # mkfs.ext4 -d, debugfs: the disk that brings a VM node its images (test/k8s/vmNodeDisk.ts)
	buildah mmdebstrap umoci skopeo # the image, built without a Docker engine (npm run image)
	openssl # test certificates for the control plane
	ca-certificates git
)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	say "installing Debian packages: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	# Services from these packages (etcd, prometheus) must not start on their own: tests start
	# their own instances on free ports.
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
	apt-get install -y -q --no-install-recommends "${missing[@]}" || {
		rm -f /usr/sbin/policy-rc.d
		echo "setup: apt-get install failed; fix the error above and run me again" >&2
		exit 1
	}
	rm -f /usr/sbin/policy-rc.d
else
	say "Debian packages: all ${#packages[@]} present"
fi

node_major=$(node -p 'process.versions.node.split(".").map(Number).join(" ")' 2>/dev/null || echo 0)
read -r major minor _ <<<"$node_major"
if [ "$major" -lt 20 ] || { [ "$major" -eq 20 ] && [ "$minor" -lt 19 ]; }; then
	echo "setup: Node.js >= 20.19 is needed (found $(node --version 2>/dev/null || echo none))" >&2
	exit 1
fi
# node-gyp builds the addon against the installed Node's own headers (no download).
if [ -f /usr/include/node/node_api.h ]; then
	export npm_config_nodedir=/usr
fi

lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat node_modules/.rewind-lock-hash 2>/dev/null)" != "$lock_hash" ]; then
	say "installing npm dependencies (npm ci)"
	npm ci --no-audit --no-fund
	echo "$lock_hash" > node_modules/.rewind-lock-hash
else
	say "npm dependencies: up to date"
fi

if [ -x test/k8s/build-binaries.sh ]; then
	test/k8s/build-binaries.sh
fi

say "building (npm run build)"
npm run -s build
say "done"
