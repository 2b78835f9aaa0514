/**
 * Listening that fails loudly. Express's `app.listen(port, host, callback)` hands a listen error
 * to the callback, so a server that never bound looked started; here the promise rejects on the
 * server's 'error' event with one line naming the address and the cause.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export class ListenError extends Error {
  override name = 'ListenError';
}

/** "host:port", IPv6 hosts in brackets. */
export function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

const CAUSES: Record<string, string> = {
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'address not available on this host',
  EACCES: 'permission denied',
};

function cause(e: NodeJS.ErrnoException): string {
  return (e.code !== undefined && CAUSES[e.code]) || e.message;
}

/** Binds `server` to host:port; resolves with the bound address (port 0: the one picked). */
export function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const fail = (e: NodeJS.ErrnoException): void => {
      server.off('error', fail);
      reject(new ListenError(`cannot listen on ${formatAddress(host, port)}: ${cause(e)}`));
    };
    server.once('error', fail);
    try {
      server.listen(port, host, () => {
        server.off('error', fail);
        resolve(server.address() as AddressInfo);
      });
    } catch (e) {
      fail(e as NodeJS.ErrnoException); // e.g. a port out of range, thrown synchronously
    }
  });
}
