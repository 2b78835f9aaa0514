/**
 * The informer wrapper (controller/kube/informer.ts) against a REAL kube-apiserver: events and
 * cache, synced() only after a full list, and a restart after a failed list that waits the
 * capped backoff on a fake clock.
 */
import { CoreV1Api, type V1Node } from '@kubernetes/client-node';
import { loadKubeConfig } from '../../controller/kube/client';
import { Informer, type InformerEvent } from '../../controller/kube/informer';
import { type ControlPlane, startControlPlane } from '../k8s/controlPlane';
import { FakeClock } from './fake-clock';

let cp: ControlPlane;
beforeAll(async () => {
  cp = await startControlPlane();
}, 180_000);
afterAll(async () => {
  await cp?.stop();
});

async function until(what: string, probe: () => boolean): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('events, cache and synced(); a failed list is retried after the backoff', async () => {
  const kc = loadKubeConfig({ kubeconfig: cp.kubeconfigPath });
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNode({ body: { metadata: { name: 'before', labels: { a: '1' } } } });
  const clock = new FakeClock();
  const warnings: object[] = [];
  let failLists = 1;
  const informer = new Informer<V1Node>({
    name: 'nodes',
    kc,
    path: '/api/v1/nodes',
    list: () => {
      if (failLists-- > 0) return Promise.reject(new Error('connection refused (scripted)'));
      return core.listNode();
    },
    clock,
    log: { info: () => {}, warn: (f) => warnings.push(f) },
    backoff: { initialMs: 1000, maxMs: 8000 },
  });
  const events: string[] = [];
  informer.on((e: InformerEvent, n) => events.push(`${e} ${n.metadata?.name}`));

  await informer.start();
  expect(informer.synced()).toBe(false);
  expect(warnings).toEqual([
    expect.objectContaining({ delayMs: 1000, err: 'connection refused (scripted)' }),
  ]);
  clock.advance(999);
  expect(informer.synced()).toBe(false);
  clock.advance(1);
  await until('synced', () => informer.synced());
  expect(events).toEqual(['add before']);
  expect(informer.get('before')?.metadata?.labels).toEqual({ a: '1' });

  await core.createNode({ body: { metadata: { name: 'after' } } });
  await until('add', () => events.includes('add after'));
  await core.patchNode({
    name: 'after',
    body: [{ op: 'add', path: '/metadata/labels', value: { b: '2' } }],
  });
  await until('update', () => events.includes('update after'));
  expect(informer.get('after')?.metadata?.labels).toEqual({ b: '2' });
  await core.deleteNode({ name: 'before' });
  await until('delete', () => events.includes('delete before'));
  expect(informer.list().map((n) => n.metadata?.name)).toEqual(['after']);
  await informer.stop();
  expect(clock.pending()).toBe(0);
});
