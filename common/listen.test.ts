import { createServer, type Server } from 'node:http';
import { formatAddress, listen, ListenError } from './listen';

describe('listen', () => {
  const servers: Server[] = [];
  afterEach(() => servers.splice(0).forEach((s) => s.close()));
  const server = (): Server => {
    const s = createServer();
    servers.push(s);
    return s;
  };

  it('resolves with the address actually bound', async () => {
    const address = await listen(server(), 0, '127.0.0.1');
    expect(address.address).toBe('127.0.0.1');
    expect(address.port).toBeGreaterThan(0);
  });

  it('rejects, naming the address and the cause, when the port is taken', async () => {
    const { port } = await listen(server(), 0, '127.0.0.1');
    const second = listen(server(), port, '127.0.0.1');
    await expect(second).rejects.toThrow(ListenError);
    await expect(second).rejects.toThrow(
      `cannot listen on 127.0.0.1:${port}: address already in use`,
    );
  });

  it('rejects for an address this host does not have', async () => {
    await expect(listen(server(), 0, '192.0.2.1')).rejects.toThrow(
      'cannot listen on 192.0.2.1:0: address not available on this host',
    );
  });

  it('rejects a port out of range instead of throwing', async () => {
    await expect(listen(server(), 70000, '127.0.0.1')).rejects.toThrow(
      /^cannot listen on 127\.0\.0\.1:70000: .*65536/,
    );
  });

  it('writes IPv6 addresses in brackets', () => {
    expect(formatAddress('::', 9090)).toBe('[::]:9090');
    expect(formatAddress('0.0.0.0', 9090)).toBe('0.0.0.0:9090');
  });
});
