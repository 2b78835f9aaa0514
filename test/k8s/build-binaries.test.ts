// The Kubernetes binaries' cache filled by two processes at once (setup and a test, or setup run
// twice): each binary (the six Kubernetes programs, helm, CoreDNS) is built once, both runs
// succeed, and no temporary file is left behind; a later run builds only what is missing.
//
// A real build takes about fifteen minutes of both cores, so the Go toolchain here is a stand-in
// (REWIND_GO): a script that answers the four commands build-binaries.sh runs and "builds" by
// writing a small executable after a pause, logging each build. The script under test, its lock,
// its temporary names and its renames are the real ones.
import { spawn } from 'node:child_process';
import {
  chmodSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import versions from './versions.json';

const script = join(__dirname, 'build-binaries.sh');
const K8S_BINARIES = [
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kubelet',
  'kube-proxy',
  'kubectl',
];

const FAKE_GO = `#!/bin/bash
# Stands in for the Go toolchain in build-binaries.test.ts (see there).
set -euo pipefail
case "$1 \${2:-}" in
"env GOVERSION") echo go1.26.8 ;;
"mod download")
	printf 'module k8s.io/kubernetes\\nreplace (\\n\\tk8s.io/api => ./staging/src/k8s.io/api\\n)\\n' >"$FAKE_DIR/go.mod"
	printf '{"GoMod": "%s"}\\n' "$FAKE_DIR/go.mod" ;;
"clean -cache") ;;
build\\ *)
	out=""; pkg=""
	while [ $# -gt 0 ]; do
		case "$1" in -o) out=$2; shift 2 ;; -p|-ldflags) shift 2 ;; *) pkg=$1; shift ;; esac
	done
	sleep 2
	echo "$pkg" >>"$FAKE_DIR/builds.log"
	printf '#!/bin/sh\\necho %s\\n' "$pkg" >"$out"
	chmod +x "$out" ;;
*) echo "fake go: unexpected: $*" >&2; exit 2 ;;
esac
`;

function run(env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', [script], { env: { ...process.env, ...env } });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

describe('build-binaries.sh under concurrency', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rewind-build-binaries-'));
    writeFileSync(join(dir, 'go'), FAKE_GO);
    chmodSync(join(dir, 'go'), 0o755);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('builds each binary once when two runs start together on an empty cache', async () => {
    const env = { REWIND_CACHE: join(dir, 'cache'), REWIND_GO: join(dir, 'go'), FAKE_DIR: dir };
    const runs = await Promise.all([run(env), run(env)]);
    for (const r of runs) {
      expect(r.stderr).not.toMatch(/\] error:/);
      expect(r.code).toBe(0);
    }
    const builds = readFileSync(join(dir, 'builds.log'), 'utf8').trim().split('\n').sort();
    expect(builds).toEqual([
      'helm.sh/helm/v3/cmd/helm',
      'k8s.io/kubernetes/cmd/kube-apiserver',
      'k8s.io/kubernetes/cmd/kube-controller-manager',
      'k8s.io/kubernetes/cmd/kube-proxy',
      'k8s.io/kubernetes/cmd/kube-scheduler',
      'k8s.io/kubernetes/cmd/kubectl',
      'k8s.io/kubernetes/cmd/kubelet',
      'rewind.local/coredns-build',
    ]);
    const binDir = join(dir, 'cache', 'k8s');
    expect(
      readdirSync(binDir)
        .filter((f) => !f.startsWith('.'))
        .sort(),
    ).toEqual(
      [
        ...K8S_BINARIES.map((b) => `${b}-${versions.kubernetes}`),
        `helm-${versions.helm}`,
        `coredns-${versions.coredns}`,
      ].sort(),
    );
    for (const name of readdirSync(binDir).filter((f) => !f.startsWith('.'))) {
      expect(statSync(join(binDir, name)).mode & 0o111).not.toBe(0);
    }
    expect(readdirSync(binDir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    // CoreDNS's main package: the plugins a cluster DNS uses, in plugin.cfg's order.
    const main = readFileSync(
      join(dir, 'cache', 'src', `coredns-${versions.coredns}`, 'main.go'),
      'utf8',
    );
    expect(main).toContain('_ "github.com/coredns/coredns/plugin/kubernetes"');
    expect(main).toMatch(
      /dnsserver\.Directives = \[\]string\{"reload", .*"kubernetes", "loop", "forward"\}/,
    );

    // A third run finds everything and builds nothing.
    const again = await run(env);
    expect(again.stderr).toMatch(/all binaries cached/);
    expect(readFileSync(join(dir, 'builds.log'), 'utf8').trim().split('\n')).toHaveLength(8);
  }, 120_000);

  it('builds only what is missing', async () => {
    const env = { REWIND_CACHE: join(dir, 'cache'), REWIND_GO: join(dir, 'go'), FAKE_DIR: dir };
    rmSync(join(dir, 'cache', 'k8s', `kubelet-${versions.kubernetes}`));
    rmSync(join(dir, 'cache', 'k8s', `coredns-${versions.coredns}`));
    const r = await run(env);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/building: kubelet coredns /);
    const builds = readFileSync(join(dir, 'builds.log'), 'utf8').trim().split('\n');
    expect(builds.slice(8)).toEqual([
      'k8s.io/kubernetes/cmd/kubelet',
      'rewind.local/coredns-build',
    ]);
  }, 60_000);
});
