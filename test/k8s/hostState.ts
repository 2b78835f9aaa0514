/**
 * What a node on this machine changes in the host, read and undone: mounts, processes, cgroups,
 * iptables chains, network links, sysctls. hostNode.ts sweeps with these after a node stops (and
 * before one starts, after a run that died); node.test.ts compares snapshots taken before and
 * after a cluster to prove nothing is left behind.
 */
import { readdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { command } from './process';

/** Decode the octal escapes of /proc/self/mountinfo (`\040` is a space). */
function unescapeMountPath(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_m, octal: string) =>
    String.fromCharCode(parseInt(octal, 8)),
  );
}

/** Mount points in a mountinfo text (field 5 of each line), in mount order. */
export function parseMountPoints(mountinfo: string): string[] {
  return mountinfo
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => unescapeMountPath(line.split(' ')[4]));
}

/** Every mount point of this mount namespace. */
export function mountPoints(): string[] {
  return parseMountPoints(readFileSync('/proc/self/mountinfo', 'utf8'));
}

const isUnder = (file: string, dir: string): boolean =>
  file === dir || file.startsWith(dir.endsWith('/') ? dir : `${dir}/`);

/** Mount points at or under any of `dirs`, the deepest (last mounted) first. */
export function mountsUnder(dirs: string[]): string[] {
  return mountPoints()
    .filter((m) => dirs.some((d) => isUnder(m, d)))
    .reverse();
}

/** Unmount every mount at or under `dirs` (lazily when busy); returns what was unmounted. */
export async function unmountUnder(dirs: string[]): Promise<string[]> {
  const done: string[] = [];
  // A mount can be stacked several times on one point: go round until none is left.
  for (let round = 0; round < 5; round++) {
    const mounts = mountsUnder(dirs);
    if (mounts.length === 0) break;
    for (const mount of mounts) {
      const plain = await command('umount', [mount]);
      if (plain.code !== 0) await command('umount', ['--lazy', mount]);
      done.push(mount);
    }
  }
  return done;
}

export interface HostProcess {
  pid: number;
  cmdline: string[];
}

/** Every process's command line (those that vanish while read are skipped). */
export function processes(): HostProcess[] {
  const list: HostProcess[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const raw = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (raw === '') continue; // a kernel thread
      list.push({ pid: Number(entry), cmdline: raw.replace(/\0$/, '').split('\0') });
    } catch {
      // exited meanwhile
    }
  }
  return list;
}

/** The cgroup v1 hierarchies (and the v2 one) mounted under /sys/fs/cgroup. */
export function cgroupHierarchies(): string[] {
  const root = '/sys/fs/cgroup';
  try {
    if (readdirSync(root).includes('cgroup.controllers')) return [root]; // unified (v2) only
    return readdirSync(root)
      .map((name) => path.join(root, name))
      .filter((dir) => {
        try {
          return statSync(path.join(dir, 'cgroup.procs')).isFile();
        } catch {
          return false;
        }
      });
  } catch {
    return [];
  }
}

/** The cgroup folders named `name` at the top of each hierarchy (e.g. the kubelet's kubepods). */
export function topCgroups(name: string): string[] {
  return cgroupHierarchies()
    .map((h) => path.join(h, name))
    .filter((dir) => {
      try {
        return statSync(dir).isDirectory();
      } catch {
        return false;
      }
    });
}

/** The cgroup folders of a tree, children before parents. */
function cgroupTree(dir: string): string[] {
  const below: string[] = [];
  try {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) below.push(...cgroupTree(path.join(dir, entry.name)));
    }
  } catch {
    return [];
  }
  return [...below, dir];
}

/** The pids in a cgroup tree. */
export function pidsInCgroupTree(dir: string): number[] {
  const pids = new Set<number>();
  for (const group of cgroupTree(dir)) {
    try {
      for (const line of readFileSync(path.join(group, 'cgroup.procs'), 'utf8').split('\n')) {
        if (line.trim() !== '') pids.add(Number(line));
      }
    } catch {
      // removed meanwhile
    }
  }
  return [...pids];
}

/** Remove a cgroup tree (its processes must be gone); returns the folders that remain. */
export function removeCgroupTree(dir: string): string[] {
  const left: string[] = [];
  for (const group of cgroupTree(dir)) {
    try {
      rmdirSync(group);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') left.push(group);
    }
  }
  return left;
}

/** Read a sysctl (`net.ipv4.ip_forward`), or undefined when the kernel has none by that name. */
export function readSysctl(name: string): string | undefined {
  try {
    return readFileSync(`/proc/sys/${name.replace(/\./g, '/')}`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

export function writeSysctl(name: string, value: string): void {
  writeFileSync(`/proc/sys/${name.replace(/\./g, '/')}`, value);
}

type Family = 'ip4' | 'ip6';
const IPTABLES: Record<Family, string> = { ip4: 'iptables', ip6: 'ip6tables' };

/**
 * iptables and ip6tables rules as `ip4 table: -A ...` lines, and their chains as
 * `ip4 table: :CHAIN`, without counters. Built-in chains are listed only with a policy other than
 * ACCEPT: iptables-nft keeps a table once made, with its empty built-in chains, which filters
 * nothing (removing it would take nft).
 */
export async function iptablesRules(): Promise<string[]> {
  const rules: string[] = [];
  for (const family of ['ip4', 'ip6'] as const) {
    const saved = await command(`${IPTABLES[family]}-save`, []);
    if (saved.code !== 0) {
      if (family === 'ip6') continue; // no IPv6 here
      throw new Error(`iptables-save failed: ${saved.stderr}`);
    }
    rules.push(...parseIptablesSave(saved.stdout, family));
  }
  return rules;
}

export function parseIptablesSave(text: string, family: Family): string[] {
  const rules: string[] = [];
  let table = '';
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1);
    else if (line.startsWith(':')) {
      const [chain, policy] = line.split(' ');
      if (policy !== 'ACCEPT') rules.push(`${family} ${table}: ${chain}`);
    } else if (line.startsWith('-A ')) rules.push(`${family} ${table}: ${line}`);
  }
  return rules;
}

interface Chain {
  family: Family;
  table: string;
  chain: string;
}

/** The chains among `rules` (from iptablesRules()) whose names start with one of `prefixes`. */
export function chainsWithPrefix(rules: string[], prefixes: string[]): Chain[] {
  return rules
    .map((r) => /^(ip[46]) (\w+): :(\S+)$/.exec(r))
    .filter((m): m is RegExpExecArray => m !== null && prefixes.some((p) => m[3].startsWith(p)))
    .map((m) => ({ family: m[1] as Family, table: m[2], chain: m[3] }));
}

/**
 * Remove the chains named with `prefixes` and every rule that jumps to one; returns the chains
 * removed (`ip4 filter/KUBE-FIREWALL`).
 */
export async function removeIptablesChains(prefixes: string[]): Promise<string[]> {
  const rules = await iptablesRules();
  const chains = chainsWithPrefix(rules, prefixes);
  if (chains.length === 0) return [];
  for (const rule of rules) {
    const m = /^(ip[46]) (\w+): -A (\S+) (.*)$/.exec(rule);
    if (!m || prefixes.some((p) => m[3].startsWith(p))) continue;
    if (!prefixes.some((p) => m[4].includes(`-j ${p}`) || m[4].includes(`-g ${p}`))) continue;
    // The rule as iptables-save printed it, quotes included, so through a shell.
    await command('sh', ['-c', `${IPTABLES[m[1] as Family]} -t ${m[2]} -D ${m[3]} ${m[4]}`]);
  }
  for (const c of chains) await command(IPTABLES[c.family], ['-t', c.table, '-F', c.chain]);
  for (const c of chains) await command(IPTABLES[c.family], ['-t', c.table, '-X', c.chain]);
  return chains.map((c) => `${c.family} ${c.table}/${c.chain}`);
}

/** Network links as `name type` (the type from `ip -d`: bridge, veth, ...). */
export async function networkLinks(): Promise<string[]> {
  const out = await command('ip', ['-d', '-o', 'link', 'show']);
  return out.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((line) => {
      const name = (/^\d+: ([^:@]+)/.exec(line) ?? [])[1] ?? line;
      const type = / (bridge|veth|vxlan|dummy|tun|tap) /.exec(line)?.[1] ?? 'other';
      return `${name} ${type}`;
    })
    .sort();
}
