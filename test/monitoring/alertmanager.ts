/**
 * A real Alertmanager (Debian's prometheus-alertmanager; upstream names it `alertmanager`) for
 * tests and the demo: its configuration, storage and log in the caller's folder, alone (no
 * gossip: each one of a pair sends, as when gossip fails), on a free loopback port.
 */
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { findBinary, startDaemon } from './daemon';

export interface AlertmanagerOptions {
  /** Holds `<name>.yml`, the storage `<name>/` and the log `<name>.log`; the caller removes it after stop(). */
  dir: string;
  /** Tells several apart in one folder: `am-1`, `am-2`. */
  name: string;
  /** The configuration's YAML text (chartAlertmanagerConfig's, or a test's own). */
  config: string;
}

export interface Alertmanager {
  /** http://127.0.0.1:<port>: its API (`/api/v2/alerts`) and Prometheus's `alertmanagerUrl`. */
  url: string;
  /** Where it logs (a failed notification is logged here). */
  log: string;
  /** Resolves once the process exited. */
  stop(): Promise<void>;
}

export async function startAlertmanager(opts: AlertmanagerOptions): Promise<Alertmanager> {
  const binary = findBinary(
    ['prometheus-alertmanager', 'alertmanager'],
    "Debian's prometheus-alertmanager",
  );
  const config = path.join(opts.dir, `${opts.name}.yml`);
  writeFileSync(config, opts.config);
  const daemon = await startDaemon({
    name: `alertmanager ${opts.name}`,
    binary,
    args: (listen) => [
      `--config.file=${config}`,
      `--storage.path=${path.join(opts.dir, opts.name)}`,
      `--web.listen-address=${listen}`,
      '--cluster.listen-address=',
    ],
    log: path.join(opts.dir, `${opts.name}.log`),
  });
  return { url: daemon.url, log: daemon.log, stop: daemon.stop };
}
