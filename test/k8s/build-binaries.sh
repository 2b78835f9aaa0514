#!/usr/bin/env bash
# Build the pinned Kubernetes binaries the k8s tests use, once.
#
#   kube-apiserver, kube-controller-manager, kube-scheduler,
#   kubelet, kube-proxy, kubectl      from k8s.io/kubernetes        (version: test/k8s/versions.json)
#   helm                              from helm.sh/helm/v3          (version: test/k8s/versions.json)
#   coredns                           from github.com/coredns/coredns (version: test/k8s/versions.json)
#
# Binaries land in ${REWIND_CACHE:-/var/cache/rewind}/k8s/<name>-<version>, outside the
# repository. A binary that is already there is not rebuilt, so a second run is a quick no-op.
# The Go module and build caches live under the same directory (go/mod, go/build).
# etcd is Debian's etcd-server package (apt), not built here.
#
# Environment: REWIND_CACHE (cache root), REWIND_GO (go binary, default: go on PATH, then
# /usr/local/go/bin/go), REWIND_BUILD_JOBS (go build -p, default 2), REWIND_KEEP_GO_BUILD_CACHE=1
# (keep the ~3 GB Go build cache after a build; by default it is removed, the binaries stay).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${REWIND_CACHE:-/var/cache/rewind}"
bin_dir="$cache/k8s"
jobs="${REWIND_BUILD_JOBS:-2}"

log() { printf '[build-binaries] %s\n' "$*" >&2; }
die() { printf '[build-binaries] error: %s\n' "$*" >&2; exit 1; }

command -v node >/dev/null 2>&1 || die "node is needed to read test/k8s/versions.json"

version_of() { node -p "require('$here/versions.json').$1"; }
k8s_version="$(version_of kubernetes)"
helm_version="$(version_of helm)"
helm_kube_version="$(version_of helmKubeVersion)"
coredns_version="$(version_of coredns)"
k8s_binaries=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)

# GOTOOLCHAIN=local: never fetch another Go. GOPROXY is left to the machine's Go configuration.
export GOMODCACHE="$cache/go/mod" GOCACHE="$cache/go/build" GOFLAGS="-mod=mod -buildvcs=false"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOWORK=off
mkdir -p "$bin_dir" "$GOMODCACHE" "$GOCACHE" 2>/dev/null || die "cannot create $bin_dir (set REWIND_CACHE to a writable directory)"

missing_binaries() {
  want=()
  local b
  for b in "${k8s_binaries[@]}"; do
    [[ -x "$bin_dir/$b-$k8s_version" ]] || want+=("$b")
  done
  [[ -x "$bin_dir/helm-$helm_version" ]] || want+=(helm)
  [[ -x "$bin_dir/coredns-$coredns_version" ]] || want+=(coredns)
  [[ ${#want[@]} -gt 0 ]]
}
versions_line="kubernetes $k8s_version, helm $helm_version, coredns $coredns_version"
if ! missing_binaries; then
  log "all binaries cached in $bin_dir ($versions_line)"
  exit 0
fi
# Several processes may fill an empty cache at once (setup run twice, a test and a demo): one
# builds while the others wait on this lock, then find the binaries there. Each binary is also
# written under a temporary name of its own and renamed into place, so no reader sees half a file.
exec 9>"$bin_dir/.build.lock"
if ! flock -n 9; then
  log "another build of the binaries is running; waiting for it (lock: $bin_dir/.build.lock)"
  flock 9
fi
if ! missing_binaries; then
  log "all binaries cached in $bin_dir by the other build ($versions_line)"
  exit 0
fi
go_bin="${REWIND_GO:-}"
if [[ -z "$go_bin" ]]; then
  if command -v go >/dev/null 2>&1; then go_bin="$(command -v go)";
  elif [[ -x /usr/local/go/bin/go ]]; then go_bin=/usr/local/go/bin/go;
  else die "no Go toolchain found (install Go >= 1.26 or set REWIND_GO=/path/to/go)"; fi
fi
[[ -x "$go_bin" ]] || die "REWIND_GO=$go_bin is not an executable Go toolchain"
go_version="$("$go_bin" env GOVERSION)" || die "$go_bin does not run"
go_minor="$(echo "$go_version" | sed -E 's/^go1\.([0-9]+).*/\1/')"
[[ "$go_minor" =~ ^[0-9]+$ && "$go_minor" -ge 26 ]] ||
  die "$go_bin is $go_version; helm $(node -p "require('$here/versions.json').helm") needs Go >= 1.26"
log "building: ${want[*]} (go: $go_version, -p $jobs, cache: $cache)"
started=$SECONDS

# A throw-away module that requires the pinned release. k8s.io/kubernetes replaces its staging
# modules (k8s.io/api, k8s.io/client-go, ...) with local paths, which only work inside its own
# tree, so we map each one to its published v0.<minor>.<patch> release.
build_kubernetes() {
  local targets=("$@") dir="$cache/src/kubernetes-$k8s_version" staging_version mod_file
  staging_version="v0.${k8s_version#v1.}"
  mkdir -p "$dir"
  log "kubernetes $k8s_version: resolving module (staging modules at $staging_version)"
  mod_file="$("$go_bin" mod download -json "k8s.io/kubernetes@$k8s_version" |
    node -e 'let s="";process.stdin.on("data",(d)=>(s+=d)).on("end",()=>{let j={};try{j=JSON.parse(s)}catch{}if(!j.GoMod){console.error(j.Error||"no go.mod in the answer");process.exit(1)}console.log(j.GoMod)})')" ||
    die "cannot download k8s.io/kubernetes@$k8s_version from the Go module proxy"
  {
    echo "module rewind.local/k8s-build"
    echo
    echo "go 1.24.0"
    echo
    echo "require k8s.io/kubernetes $k8s_version"
    echo
    echo "replace ("
    grep -E '^\s*k8s\.io/[a-z0-9-]+ => \./staging/' "$mod_file" |
      awk -v v="$staging_version" '{ printf "\t%s => %s %s\n", $1, $1, v }'
    echo ")"
  } >"$dir/go.mod"
  echo 'package k8sbuild' >"$dir/doc.go"
  local pkg=k8s.io/component-base/version
  local ldflags="-s -w -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1"
  ldflags+=" -X $pkg.gitMinor=$(echo "$k8s_version" | cut -d. -f2) -X $pkg.gitTreeState=clean"
  ldflags+=" -X $pkg.buildDate=1970-01-01T00:00:00Z"
  local t
  for t in "${targets[@]}"; do
    log "kubernetes $k8s_version: go build cmd/$t (the first build takes many minutes)"
    (cd "$dir" && "$go_bin" build -p "$jobs" -trimpath -ldflags "$ldflags" \
      -o "$bin_dir/.$t-$k8s_version.$$.tmp" "k8s.io/kubernetes/cmd/$t") ||
      die "go build k8s.io/kubernetes/cmd/$t@$k8s_version failed (see the Go output above)"
    mv -f "$bin_dir/.$t-$k8s_version.$$.tmp" "$bin_dir/$t-$k8s_version"
    log "built $bin_dir/$t-$k8s_version"
  done
}

build_helm() {
  local dir="$cache/src/helm-$helm_version"
  mkdir -p "$dir"
  printf 'module rewind.local/helm-build\n\ngo 1.26.0\n\nrequire helm.sh/helm/v3 %s\n' "$helm_version" >"$dir/go.mod"
  echo 'package helmbuild' >"$dir/doc.go"
  local major="${helm_kube_version%%.*}" minor="${helm_kube_version#*.}"
  local ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$helm_version"
  ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  ldflags+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=$major"
  ldflags+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$minor"
  ldflags+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=$major"
  ldflags+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$minor"
  log "helm $helm_version: go build cmd/helm"
  (cd "$dir" && "$go_bin" build -p "$jobs" -trimpath -ldflags "$ldflags" \
    -o "$bin_dir/.helm-$helm_version.$$.tmp" helm.sh/helm/v3/cmd/helm) ||
    die "go build helm.sh/helm/v3/cmd/helm@$helm_version failed (see the Go output above)"
  mv -f "$bin_dir/.helm-$helm_version.$$.tmp" "$bin_dir/helm-$helm_version"
  log "built $bin_dir/helm-$helm_version"
}

# CoreDNS with the plugins a cluster's DNS uses (those of kubeadm's Corefile, plus bind and hosts):
# upstream's own way to choose plugins at compile time, a main package that imports them and sets
# dnsserver.Directives in plugin.cfg's order. The full build would also compile the cloud
# back-ends (Route 53, Azure, Cloud DNS, Nomad, dnstap, tracing) that a test cluster never uses.
coredns_plugins=(reload bind ready health prometheus errors log loadbalance cache hosts kubernetes loop forward)
build_coredns() {
  local dir="$cache/src/coredns-$coredns_version" p
  mkdir -p "$dir"
  printf 'module rewind.local/coredns-build\n\ngo 1.25.0\n\nrequire github.com/coredns/coredns %s\n' "$coredns_version" >"$dir/go.mod"
  {
    echo '// Written by test/k8s/build-binaries.sh: CoreDNS with the plugins of a cluster DNS.'
    echo 'package main'
    echo
    echo 'import ('
    echo '	"github.com/coredns/coredns/core/dnsserver"'
    echo '	"github.com/coredns/coredns/coremain"'
    for p in "${coredns_plugins[@]}"; do
      [[ "$p" == prometheus ]] && p=metrics
      echo "	_ \"github.com/coredns/coredns/plugin/$p\""
    done
    echo ')'
    echo
    echo "func init() { dnsserver.Directives = []string{$(printf '"%s", ' "${coredns_plugins[@]}" | sed 's/, $//')} }"
    echo
    echo 'func main() { coremain.Run() }'
  } >"$dir/main.go"
  log "coredns $coredns_version: go build (plugins: ${coredns_plugins[*]})"
  (cd "$dir" && "$go_bin" build -p "$jobs" -trimpath -ldflags "-s -w" \
    -o "$bin_dir/.coredns-$coredns_version.$$.tmp" rewind.local/coredns-build) ||
    die "go build of coredns $coredns_version failed (see the Go output above)"
  mv -f "$bin_dir/.coredns-$coredns_version.$$.tmp" "$bin_dir/coredns-$coredns_version"
  log "built $bin_dir/coredns-$coredns_version"
}

k8s_targets=()
for w in "${want[@]}"; do [[ "$w" == helm || "$w" == coredns ]] || k8s_targets+=("$w"); done
[[ ${#k8s_targets[@]} -eq 0 ]] || build_kubernetes "${k8s_targets[@]}"
[[ " ${want[*]} " != *" helm "* ]] || build_helm
[[ " ${want[*]} " != *" coredns "* ]] || build_coredns
log "done in $((SECONDS - started)) s; binaries in $bin_dir"
# The Go build cache (about 3 GB after these builds) is only useful for rebuilding; the module
# cache (about 1 GB) is kept so a version bump downloads only what changed.
if [[ "${REWIND_KEEP_GO_BUILD_CACHE:-0}" != 1 ]]; then
  "$go_bin" clean -cache && log "removed the Go build cache $GOCACHE (REWIND_KEEP_GO_BUILD_CACHE=1 keeps it)"
fi
