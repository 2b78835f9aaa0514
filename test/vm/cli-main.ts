/**
 * npm run vm -- [--kernel SERIES] [--cpus N] [--mem MiB] [--name HOSTNAME] [--out DIR]...
 *               <command…>
 * Boots a fresh VM (the host's kernel, or Debian's kernel of SERIES: 5.10, 6.1, 6.12), runs the
 * command inside as root from the project root, streams its output, powers off and exits with the
 * command's status.
 */
import { isKernelSeries, KERNEL_SERIES } from './kernel';
import { runVm } from './vm';

const USAGE =
  'usage: npm run vm -- [--kernel SERIES] [--cpus N] [--mem MiB] [--name HOSTNAME] ' +
  `[--out DIR]... <command…>\n  SERIES: ${KERNEL_SERIES.join(', ')} (default: the host's kernel)`;

export interface CliArgs {
  cpus: number;
  memoryMiB: number;
  shareDirs: string[];
  name?: string;
  kernel?: string;
  argv: string[];
}

function positive(flag: string, value: string | undefined): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${flag} needs a positive integer\n${USAGE}`);
  return n;
}

export function parseCliArgs(args: string[]): CliArgs {
  const parsed: CliArgs = { cpus: 2, memoryMiB: 1024, shareDirs: [], argv: [] };
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i];
    if (a === '--') {
      i++;
      break;
    } else if (a === '--cpus') parsed.cpus = positive(a, args[++i]);
    else if (a === '--mem') parsed.memoryMiB = positive(a, args[++i]);
    else if (a === '--out') {
      const dir = args[++i];
      if (!dir) throw new Error(`--out needs a folder\n${USAGE}`);
      parsed.shareDirs.push(dir);
    } else if (a === '--name') {
      const name = args[++i];
      if (!name || !/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(name)) {
        throw new Error(`--name needs a host name (lower-case letters, digits, '-')\n${USAGE}`);
      }
      parsed.name = name;
    } else if (a === '--kernel') {
      const series = args[++i];
      if (!series || !isKernelSeries(series)) {
        throw new Error(`--kernel needs one of ${KERNEL_SERIES.join(', ')}\n${USAGE}`);
      }
      parsed.kernel = series;
    } else if (a === '-h' || a === '--help') throw new Error(USAGE);
    else break;
  }
  parsed.argv = args.slice(i);
  if (parsed.argv.length === 0) throw new Error(`no command given\n${USAGE}`);
  return parsed;
}

export async function main(): Promise<void> {
  let args: CliArgs;
  try {
    args = parseCliArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exit(2);
  }
  const result = await runVm(args.argv, {
    cpus: args.cpus,
    memoryMiB: args.memoryMiB,
    shareDirs: args.shareDirs,
    name: args.name,
    kernel: args.kernel,
  });
  if (result.code === 125 && result.kernelLog) {
    process.stderr.write(
      `rewind-vm: the VM stopped before the command finished; kernel log tail:\n` +
        result.kernelLog.slice(-3000),
    );
  }
  if (result.kernelProblems.length > 0) {
    process.stderr.write(
      `rewind-vm: the kernel log shows problems:\n${result.kernelProblems.join('\n')}\n`,
    );
  }
  process.exit(result.code);
}

export function runCli(): void {
  main().catch((e: Error) => {
    process.stderr.write(`rewind-vm: ${e.message}\n`);
    process.exit(125);
  });
}

if (require.main === module) runCli();
