/**
 * TokenReview of the components' real tokens. The controller may review tokens: its API
 * (downloads, /v1/agents) authenticates callers by their Kubernetes token. The agent may not: it
 * checks the controller by its client certificate (mutual TLS) and has no Kubernetes access.
 */
import { NS, useCluster } from './cluster';

const cluster = useCluster({ install: true });

describe('TokenReview', () => {
  interface Review {
    status: {
      authenticated?: boolean;
      user?: { username: string; uid: string; groups: string[] };
      audiences?: string[];
    };
  }
  const review = (token: string, reviewer: string | undefined) =>
    cluster.cp.request(
      'POST',
      '/apis/authentication.k8s.io/v1/tokenreviews',
      { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } },
      reviewer,
    );

  test('of the controller token reports its identity', async () => {
    const r = await review(cluster.tokens.controller, undefined);
    expect(r.status).toBe(201);
    const { status } = r.body as Review;
    expect(status.authenticated).toBe(true);
    expect(status.user?.username).toBe(`system:serviceaccount:${NS}:rewind-controller`);
    expect(status.user?.groups).toEqual(
      expect.arrayContaining([
        'system:serviceaccounts',
        `system:serviceaccounts:${NS}`,
        'system:authenticated',
      ]),
    );
    const sa = JSON.parse(
      await cluster.cp.kubectlOk([
        '-n',
        NS,
        'get',
        'serviceaccount',
        'rewind-controller',
        '-o',
        'json',
      ]),
    ) as { metadata: { uid: string } };
    expect(status.user?.uid).toBe(sa.metadata.uid);
  });

  test('the controller may review tokens (its API); the agent may not (it checks a client certificate)', async () => {
    // review(token reviewed, reviewer's token)
    expect((await review(cluster.tokens.agent, cluster.tokens.controller)).status).toBe(201);
    expect((await review(cluster.tokens.controller, cluster.tokens.agent)).status).toBe(403);
  });

  test('of a forged token is not authenticated', async () => {
    const [h, p] = cluster.tokens.controller.split('.');
    const r = await review(`${h}.${p}.${Buffer.from('forged').toString('base64url')}`, undefined);
    expect(r.status).toBe(201);
    expect((r.body as Review).status.authenticated).toBeFalsy();
  });
});
