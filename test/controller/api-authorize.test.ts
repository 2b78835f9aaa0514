/**
 * The Authorizer's own logic (controller/api/authorize.ts, ttl-cache.ts): PURE LOGIC with a fake
 * ReviewClient and a clock variable, and says so — header parsing, the cache's TTLs and bound,
 * identical checks sharing one review, audiences, errors never cached. The same Authorizer against
 * a real kube-apiserver: api-authz.test.ts.
 */
import {
  Authorizer,
  type AccessReviewResult,
  type ResourceAttributes,
  type ReviewClient,
  type TokenReviewResult,
} from '../../controller/api/authorize';
import { bearerToken } from '../../controller/alerts/token';
import { TtlCache } from '../../controller/api/ttl-cache';

const get = (name: string): ResourceAttributes => ({
  verb: 'get',
  group: 'rewind.dev',
  resource: 'tracesnapshots',
  namespace: 'team-a',
  name,
});

class FakeReviews implements ReviewClient {
  tokenReviews = 0;
  accessReviews = 0;
  users: Record<string, TokenReviewResult> = {
    good: { authenticated: true, user: { username: 'alice', groups: ['devs'] } },
  };
  allow = new Set<string>(['alice get incident']);
  fail: Error | undefined;
  release: (() => void) | undefined;
  async tokenReview(token: string, audiences?: string[]): Promise<TokenReviewResult> {
    this.tokenReviews++;
    if (this.fail) throw this.fail;
    if (this.release) await new Promise<void>((r) => (this.release = r));
    const r = this.users[token] ?? { authenticated: false };
    return audiences ? { ...r, audiences: token === 'good' ? ['rewind'] : ['other'] } : r;
  }
  async subjectAccessReview(
    user: string,
    _groups: string[],
    _uid: string | undefined,
    _extra: Record<string, string[]> | undefined,
    a: ResourceAttributes,
  ): Promise<AccessReviewResult> {
    this.accessReviews++;
    return this.allow.has(`${user} ${a.verb} ${a.name}`)
      ? { allowed: true }
      : { allowed: false, reason: 'no RBAC\npolicy matched' };
  }
}

describe('bearerToken (pure)', () => {
  test.each([
    ['Bearer abc.def', 'abc.def'],
    ['bearer   abc', 'abc'],
    ['Bearer abc ', 'abc'],
    ['Bearer', undefined],
    ['Bearer a b', undefined],
    ['Basic dXNlcjpwYXNz', undefined],
    ['abc', undefined],
    [undefined, undefined],
  ])('%p -> %p', (header, token) => expect(bearerToken(header)).toBe(token));
});

describe('TtlCache (pure)', () => {
  test('entries expire at their TTL; the bound drops expired ones first, then the least recently used', () => {
    let now = 0;
    const c = new TtlCache<string>(3, () => now);
    c.set('a', 'A', 100);
    c.set('b', 'B', 10);
    c.set('c', 'C', 100);
    expect(c.get('a')).toBe('A'); // a is now the most recently used
    now = 10;
    expect(c.get('b')).toBeUndefined();
    c.set('b', 'B', 100);
    c.set('d', 'D', 100); // full: c, the least recently used, goes
    expect(c.size).toBe(3);
    expect(c.get('c')).toBeUndefined();
    expect([c.get('a'), c.get('b'), c.get('d')]).toEqual(['A', 'B', 'D']);
    now = 110;
    expect(c.get('a')).toBeUndefined();
    c.set('e', 'E', 0); // a TTL of 0 is not kept
    expect(c.get('e')).toBeUndefined();
  });
});

describe('Authorizer (pure logic: a fake ReviewClient, a clock variable)', () => {
  let now: number;
  let reviews: FakeReviews;
  let authorizer: Authorizer;
  beforeEach(() => {
    now = 0;
    reviews = new FakeReviews();
    authorizer = new Authorizer({ client: reviews, now: () => now, maxEntries: 100 });
  });

  test('401 without a token or for an unauthenticated one; 403 names the request with the reason on one line', async () => {
    expect(await authorizer.authorize(undefined, get('incident'))).toMatchObject({ status: 401 });
    expect(await authorizer.authorize('', get('incident'))).toMatchObject({ status: 401 });
    expect(reviews.tokenReviews).toBe(0);
    expect(await authorizer.authorize('bad', get('incident'))).toEqual({
      allowed: false,
      status: 401,
      reason: 'the bearer token is not valid',
    });
    expect(await authorizer.authorize('good', get('other'))).toEqual({
      allowed: false,
      status: 403,
      reason:
        'forbidden: "alice" cannot get tracesnapshots.rewind.dev "other" in namespace "team-a": no RBAC policy matched',
    });
    expect(await authorizer.authorize('good', get('incident'))).toEqual({
      allowed: true,
      status: 200,
      user: 'alice',
    });
  });

  test('allowed is reused for 60 s, denied for 10 s, per token and attributes', async () => {
    await authorizer.authorize('good', get('incident'));
    await authorizer.authorize('good', get('other'));
    expect(reviews.tokenReviews).toBe(2);
    now = 9_999;
    await authorizer.authorize('good', get('incident'));
    await authorizer.authorize('good', get('other'));
    expect(reviews.tokenReviews).toBe(2);
    now = 10_000;
    reviews.allow.add('alice get other');
    expect(await authorizer.authorize('good', get('other'))).toMatchObject({ status: 200 });
    expect(await authorizer.authorize('good', get('incident'))).toMatchObject({ status: 200 });
    expect(reviews.tokenReviews).toBe(3);
    now = 60_000;
    reviews.allow.delete('alice get incident');
    expect(await authorizer.authorize('good', get('incident'))).toMatchObject({ status: 403 });
  });

  test('an error is a 503 with one line, never allows and is never cached', async () => {
    reviews.fail = new Error('connect ECONNREFUSED\n127.0.0.1:6443');
    expect(await authorizer.authorize('good', get('incident'))).toEqual({
      allowed: false,
      status: 503,
      reason: 'cannot check the token: connect ECONNREFUSED 127.0.0.1:6443',
    });
    reviews.fail = undefined;
    expect(await authorizer.authorize('good', get('incident'))).toMatchObject({ status: 200 });
  });

  test('identical checks in flight share one review', async () => {
    reviews.release = () => undefined;
    const all = Promise.all([1, 2, 3].map(() => authorizer.authorize('good', get('incident'))));
    await new Promise((r) => setImmediate(r));
    expect(reviews.tokenReviews).toBe(1);
    reviews.release!();
    expect((await all).map((d) => d.status)).toEqual([200, 200, 200]);
  });

  test('required audiences: a token valid for none of them is 401', async () => {
    const strict = new Authorizer({ client: reviews, now: () => now, audiences: ['rewind'] });
    reviews.users.otherAudience = reviews.users.good!;
    expect(await strict.authorize('good', get('incident'))).toMatchObject({ status: 200 });
    expect(await strict.authorize('otherAudience', get('incident'))).toMatchObject({
      status: 401,
    });
  });

  test('the cache is bounded: a flood of distinct tokens keeps at most maxEntries decisions', async () => {
    const small = new Authorizer({ client: reviews, now: () => now, maxEntries: 10 });
    for (let i = 0; i < 200; i++) await small.authorize(`flood-${i}`, get('incident'));
    expect((small as unknown as { cache: TtlCache<unknown> }).cache.size).toBe(10);
  });
});
