/**
 * A client of the agent's snapshot API for tests, as the controller will be: HTTPS with the CA to
 * verify the agent and (optionally) a client certificate. Resolves the status, headers and body,
 * or rejects with the TLS error when the handshake is refused.
 */
import { request } from 'node:https';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KeyPair } from './certs';

export interface AgentResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface AgentRequest {
  port: number;
  host?: string;
  ca: Buffer;
  client?: KeyPair;
  method?: string;
  path: string;
  body?: string;
  /** Destroys the response after this many body bytes (a client that goes away). */
  abortAfterBytes?: number;
}

export function agentRequest(r: AgentRequest): Promise<AgentResponse> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: r.host ?? '127.0.0.1',
        port: r.port,
        method: r.method ?? 'GET',
        path: r.path,
        ca: r.ca,
        cert: r.client?.certPem,
        key: r.client?.keyPem,
        // The agent's certificate names the agent service; tests reach it on loopback.
        servername: 'localhost',
        headers: r.body === undefined ? {} : { 'content-type': 'application/json' },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let n = 0;
        res.on('data', (c: Buffer) => {
          chunks.push(c);
          n += c.length;
          if (r.abortAfterBytes !== undefined && n >= r.abortAfterBytes) {
            res.destroy();
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks),
            });
          }
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(r.body);
  });
}

/** Unpacks a tar held in memory with GNU tar into a new folder; returns the folder. */
export function untar(archive: Buffer, root = tmpdir()): string {
  const dir = mkdtempSync(join(root, 'rewind-untar-'));
  const file = join(dir, '..', `${dir.split('/').pop()}.tar`);
  writeFileSync(file, archive);
  const r = spawnSync('tar', ['-xf', file, '-C', dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tar -x failed: ${r.stderr}`);
  return dir;
}
