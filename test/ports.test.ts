import { createServer, type AddressInfo } from 'node:net';
import { freePort, freePorts } from './ports';

describe('free loopback ports', () => {
  test('never the same port twice in a process, even when asked at once', async () => {
    const ports = [...(await Promise.all(Array.from({ length: 40 }, () => freePort())))];
    ports.push(...(await freePorts(20)));
    expect(new Set(ports).size).toBe(ports.length);
  });

  test('a port it gives can be bound', async () => {
    const port = await freePort();
    const srv = createServer();
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(port, '127.0.0.1', () => resolve());
    });
    expect((srv.address() as AddressInfo).port).toBe(port);
    await new Promise((r) => srv.close(r));
  });
});
