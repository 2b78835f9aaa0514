/**
 * Free loopback ports for the processes a test starts (qemu's forwards, etcd, the API server, the
 * controller, Prometheus). The kernel picks a port and it is released just before the process
 * binds it, so two asks close together can be given the same one (seen: three VMs booting at once,
 * two qemus refused "Could not set up host forwarding rule"). A port given once is never given
 * again by this process; another process can still take one in between, as before.
 */
import { createServer, type AddressInfo } from 'node:net';

const given = new Set<number>();

function pickOnce(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** A free port on 127.0.0.1 this process has not handed out before. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 1000; attempt++) {
    const port = await pickOnce();
    if (!given.has(port)) {
      given.add(port);
      return port;
    }
  }
  throw new Error('no free loopback port this process has not used already');
}

/** `count` distinct free ports. */
export async function freePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  for (let i = 0; i < count; i++) ports.push(await freePort());
  return ports;
}
