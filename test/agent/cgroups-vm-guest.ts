/**
 * Runs inside a VM, transpiled by cgroups-vm.test.ts (`node …/cgroups-vm-guest.js ROOT [SCANS]`):
 * scans the cgroup hierarchy at ROOT SCANS times (1 by default) with the agent's scanCgroups and
 * prints one JSON line: the last scan (ids as decimal strings, each path's parsed container), and
 * over all scans how many were complete and how many directories vanished mid-walk.
 */
import { containerOfCgroupPath, scanCgroups, type CgroupScan } from '../../agent/cgroups';

async function main(): Promise<void> {
  const root = process.argv[2];
  const scans = Number(process.argv[3] ?? '1');
  let last: CgroupScan | undefined;
  let completeScans = 0;
  let vanishedTotal = 0;
  for (let i = 0; i < scans; i++) {
    last = await scanCgroups(root);
    if (last.complete) completeScans++;
    vanishedTotal += last.vanished;
  }
  const { cgroups, ...rest } = last!;
  const listed = cgroups.map((c) => ({
    id: c.id.toString(),
    path: c.path,
    ref: containerOfCgroupPath(c.path) ?? null,
  }));
  process.stdout.write(
    `${JSON.stringify({ ...rest, cgroups: listed, scans, completeScans, vanishedTotal })}\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`cgroups-vm-guest: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
