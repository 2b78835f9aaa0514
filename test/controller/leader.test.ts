/**
 * Leader election (controller/kube/leader.ts): the pure decision; the shell on a fake clock with
 * a scripted Lease client (a conflict is a lost race; renewal failing for renewDeadline loses
 * leadership at that exact time); and two electors against a REAL kube-apiserver: exactly one
 * leader, and a takeover once the leader stops renewing and its Lease expires.
 */
import { CoordinationV1Api, type V1Lease } from '@kubernetes/client-node';
import { loadKubeConfig } from '../../controller/kube/client';
import {
  decideLease,
  holderIdentity,
  LeaderElector,
  type LeaseClient,
  type LeaderTiming,
} from '../../controller/kube/leader';
import { realClock } from '../../controller/reconcile/clock';
import { type ControlPlane, startControlPlane } from '../k8s/controlPlane';
import { FakeClock } from './fake-clock';

const T: LeaderTiming = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };
const quiet = { info: () => {}, warn: () => {} };

describe('decideLease', () => {
  test('no Lease: create; empty holder: acquire; mine: renew', () => {
    expect(decideLease(undefined, 0, 0, 'me', T)).toEqual({ kind: 'create' });
    expect(decideLease({ leaseTransitions: 3 }, 0, 0, 'me', T)).toEqual({
      kind: 'acquire',
      leaseTransitions: 4,
    });
    expect(decideLease({ holderIdentity: 'me' }, 0, 99_999, 'me', T)).toEqual({ kind: 'renew' });
  });

  test("another's Lease: wait until leaseDuration after it was last observed to change", () => {
    const lease = { holderIdentity: 'other', leaseDurationSeconds: 15, leaseTransitions: 1 };
    expect(decideLease(lease, 1000, 15_999, 'me', T)).toEqual({ kind: 'wait', holder: 'other' });
    expect(decideLease(lease, 1000, 16_000, 'me', T)).toEqual({
      kind: 'acquire',
      leaseTransitions: 2,
    });
    // The Lease's own duration wins over ours; without one, ours applies.
    expect(decideLease({ ...lease, leaseDurationSeconds: 2 }, 1000, 3000, 'me', T).kind).toBe(
      'acquire',
    );
    expect(decideLease({ holderIdentity: 'other' }, 0, 14_999, 'me', T).kind).toBe('wait');
  });

  test('holder identities are the pod name and a random suffix', () => {
    const a = holderIdentity('rewind-controller-7d9f-abcde');
    expect(a).toMatch(/^rewind-controller-7d9f-abcde_[0-9a-f]{8}$/);
    expect(holderIdentity('p')).not.toBe(holderIdentity('p'));
  });
});

/** A scripted Lease client: an in-memory Lease with resourceVersions, and injectable failures. */
class ScriptedLeases implements LeaseClient {
  lease: V1Lease | undefined;
  rv = 0;
  failWith: { code: number } | undefined;

  readNamespacedLease = async (): Promise<V1Lease> => {
    if (this.failWith) throw Object.assign(new Error('scripted'), this.failWith);
    if (!this.lease) throw Object.assign(new Error('not found'), { code: 404 });
    return structuredClone(this.lease);
  };
  createNamespacedLease = async ({ body }: { body: V1Lease }): Promise<V1Lease> => {
    if (this.lease) throw Object.assign(new Error('exists'), { code: 409 });
    this.lease = { ...body, metadata: { ...body.metadata, resourceVersion: String(++this.rv) } };
    return structuredClone(this.lease);
  };
  replaceNamespacedLease = async ({ body }: { body: V1Lease }): Promise<V1Lease> => {
    if (this.failWith) throw Object.assign(new Error('scripted'), this.failWith);
    if (body.metadata?.resourceVersion !== this.lease?.metadata?.resourceVersion) {
      throw Object.assign(new Error('conflict'), { code: 409 });
    }
    this.lease = { ...body, metadata: { ...body.metadata, resourceVersion: String(++this.rv) } };
    return structuredClone(this.lease);
  };
}

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('LeaderElector on a fake clock', () => {
  test('a conflict is a lost race: no leadership, no warning; it wins on a later retry', async () => {
    const clock = new FakeClock();
    const leases = new ScriptedLeases();
    const warnings: string[] = [];
    let started = 0;
    const elector = new LeaderElector({
      coordination: leases,
      namespace: 'ns',
      name: 'rewind-leader',
      identity: 'me',
      clock,
      log: { info: () => {}, warn: (_f, m) => warnings.push(m) },
      timing: T,
      onStartedLeading: () => started++,
      onLost: () => {},
    });
    // Someone else writes between our read and our update: our replace gets 409.
    leases.lease = { metadata: { name: 'rewind-leader', resourceVersion: '0' }, spec: {} };
    const realReplace = leases.replaceNamespacedLease;
    leases.replaceNamespacedLease = async (p) => {
      leases.rv++;
      leases.lease!.metadata!.resourceVersion = String(leases.rv); // the other writer
      return realReplace(p);
    };
    elector.start();
    await flush();
    expect(elector.isLeader).toBe(false);
    expect(started).toBe(0);
    expect(warnings).toEqual([]);
    leases.replaceNamespacedLease = realReplace;
    clock.advance(T.retryPeriodMs);
    await flush();
    expect(elector.isLeader).toBe(true);
    expect(started).toBe(1);
    expect(leases.lease?.spec?.holderIdentity).toBe('me');
    await elector.stop();
  });

  test('renewal failing for renewDeadline loses leadership at that time, once', async () => {
    const clock = new FakeClock();
    const leases = new ScriptedLeases();
    let lost = 0;
    const elector = new LeaderElector({
      coordination: leases,
      namespace: 'ns',
      name: 'rewind-leader',
      identity: 'me',
      clock,
      log: quiet,
      timing: T,
      onStartedLeading: () => {},
      onLost: () => lost++,
    });
    elector.start();
    await flush();
    expect(elector.isLeader).toBe(true); // created the Lease at t=0
    leases.failWith = { code: 500 };
    for (let t = 2000; t < 10_000; t += 2000) {
      clock.advance(2000);
      await flush();
      expect(`${t}: ${elector.isLeader}`).toBe(`${t}: true`);
    }
    clock.advance(2000); // t = 10 s: renewDeadline since the last renewal
    await flush();
    expect(elector.isLeader).toBe(false);
    expect(lost).toBe(1);
    clock.advance(60_000);
    await flush();
    expect(lost).toBe(1);
    expect(clock.pending()).toBe(0); // it stopped campaigning
  });
});

describe('LeaderElector against a real kube-apiserver', () => {
  let cp: ControlPlane;
  beforeAll(async () => {
    cp = await startControlPlane();
    await cp.kubectlOk(['create', 'namespace', 'rewind-system']);
  }, 180_000);
  afterAll(async () => {
    await cp?.stop();
  });

  // Short times so the takeover happens within seconds; the semantics are the same.
  const fast: LeaderTiming = { leaseDurationMs: 2000, renewDeadlineMs: 1500, retryPeriodMs: 200 };

  function elector(identity: string, events: string[]): LeaderElector {
    const kc = loadKubeConfig({ kubeconfig: cp.kubeconfigPath });
    return new LeaderElector({
      coordination: kc.makeApiClient(CoordinationV1Api),
      namespace: 'rewind-system',
      name: 'rewind-leader',
      identity,
      clock: realClock,
      log: quiet,
      timing: fast,
      onStartedLeading: () => events.push(`${identity} leads`),
      onLost: () => events.push(`${identity} lost`),
    });
  }

  async function until(what: string, probe: () => boolean): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (!probe()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  test('two electors: exactly one leader; when it stops renewing the other takes over after expiry', async () => {
    const events: string[] = [];
    const a = elector('a_1', events);
    const b = elector('b_2', events);
    a.start();
    b.start();
    await until('a leader', () => a.isLeader || b.isLeader);
    // Several renew periods later there is still exactly one.
    await new Promise((r) => setTimeout(r, 1500));
    expect([a.isLeader, b.isLeader].filter(Boolean)).toHaveLength(1);
    expect(events).toHaveLength(1);
    const [leader, other] = a.isLeader ? [a, b] : [b, a];
    const leaderId = a.isLeader ? 'a_1' : 'b_2';
    const otherId = a.isLeader ? 'b_2' : 'a_1';
    const lease = JSON.parse(
      await cp.kubectlOk(['-n', 'rewind-system', 'get', 'lease', 'rewind-leader', '-o', 'json']),
    ) as {
      spec: { holderIdentity: string; leaseDurationSeconds: number; leaseTransitions?: number };
    };
    expect(lease.spec.holderIdentity).toBe(leaderId);
    expect(lease.spec.leaseDurationSeconds).toBe(2);

    // The leader stops renewing (a crash: no release). The other must not take over at once...
    await leader.stop();
    await new Promise((r) => setTimeout(r, 500));
    expect(other.isLeader).toBe(false);
    // ...but after the Lease expired.
    await until('takeover', () => other.isLeader);
    expect(events).toEqual([`${leaderId} leads`, `${otherId} leads`]);
    const after = JSON.parse(
      await cp.kubectlOk(['-n', 'rewind-system', 'get', 'lease', 'rewind-leader', '-o', 'json']),
    ) as { spec: { holderIdentity: string; leaseTransitions?: number } };
    expect(after.spec.holderIdentity).toBe(otherId);
    expect(after.spec.leaseTransitions).toBe((lease.spec.leaseTransitions ?? 0) + 1);

    // Releasing hands over without waiting for expiry.
    await other.stop({ release: true });
    const third = elector('c_3', events);
    third.start();
    await until('c leads', () => third.isLeader);
    await third.stop();
  });
});
