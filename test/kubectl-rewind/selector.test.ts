/**
 * parseLabelSelector (kubectl-rewind/selector.ts, pure): every form of apimachinery's label
 * selector grammar (labels.Parse) as people type it after `-l` / `--selector`, turned into the
 * LabelSelector the CRD holds, and each malformed selector refused as a usage error that names
 * the flag it came from.
 */
import { UsageError, EXIT_USAGE } from '../../kubectl-rewind/errors';
import { parseLabelSelector } from '../../kubectl-rewind/selector';

const parse = (text: string) => parseLabelSelector(text, '-l');

/** The usage error `text` gives (fails the test when it parses). */
function refusal(text: string, flag = '-l'): UsageError {
  try {
    parseLabelSelector(text, flag);
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return e as UsageError;
  }
  throw new Error(`${JSON.stringify(text)} was accepted`);
}

describe('parseLabelSelector: the grammar', () => {
  it('k=v and k==v are matchLabels', () => {
    expect(parse('app=web')).toEqual({ matchLabels: { app: 'web' } });
    expect(parse('app==web')).toEqual({ matchLabels: { app: 'web' } });
    expect(parse('app=web,tier==front')).toEqual({ matchLabels: { app: 'web', tier: 'front' } });
  });

  it('k!=v is NotIn with one value', () => {
    expect(parse('tier!=db')).toEqual({
      matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['db'] }],
    });
  });

  it('k in (a,b) and k notin (a)', () => {
    expect(parse('env in (prod,staging)')).toEqual({
      matchExpressions: [{ key: 'env', operator: 'In', values: ['prod', 'staging'] }],
    });
    expect(parse('env notin (dev)')).toEqual({
      matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['dev'] }],
    });
    // apimachinery's lexer needs no space between the operator and the parenthesis.
    expect(parse('env in(a)')).toEqual({
      matchExpressions: [{ key: 'env', operator: 'In', values: ['a'] }],
    });
  });

  it('k is Exists and !k is DoesNotExist', () => {
    expect(parse('canary')).toEqual({ matchExpressions: [{ key: 'canary', operator: 'Exists' }] });
    expect(parse('!canary')).toEqual({
      matchExpressions: [{ key: 'canary', operator: 'DoesNotExist' }],
    });
    expect(parse('! canary')).toEqual({
      matchExpressions: [{ key: 'canary', operator: 'DoesNotExist' }],
    });
  });

  it('prefixed keys (node-role.kubernetes.io/worker) and an empty value (k=)', () => {
    expect(parse('node-role.kubernetes.io/worker')).toEqual({
      matchExpressions: [{ key: 'node-role.kubernetes.io/worker', operator: 'Exists' }],
    });
    expect(parse('kubernetes.io/os=linux')).toEqual({
      matchLabels: { 'kubernetes.io/os': 'linux' },
    });
    expect(parse('role=')).toEqual({ matchLabels: { role: '' } });
    expect(parse('Ab_c.d-e=V_1.x-2')).toEqual({ matchLabels: { 'Ab_c.d-e': 'V_1.x-2' } });
  });

  it('commas inside parentheses do not split terms; spaces around anything are allowed', () => {
    expect(parse(' app = web , env in ( a , b ,c ) ,tier != db,  !canary , gpu ')).toEqual({
      matchLabels: { app: 'web' },
      matchExpressions: [
        { key: 'env', operator: 'In', values: ['a', 'b', 'c'] },
        { key: 'tier', operator: 'NotIn', values: ['db'] },
        { key: 'canary', operator: 'DoesNotExist' },
        { key: 'gpu', operator: 'Exists' },
      ],
    });
  });

  it('the same key with the same value twice is one label', () => {
    expect(parse('app=web,app==web')).toEqual({ matchLabels: { app: 'web' } });
  });

  it('a key of 63 characters with a 253-character prefix is a key', () => {
    const prefix = `${'a'.repeat(61)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}`;
    expect(prefix).toHaveLength(253);
    const key = `${prefix}/${'n'.repeat(63)}`;
    expect(parse(key)).toEqual({ matchExpressions: [{ key, operator: 'Exists' }] });
    expect(parse(`k=${'v'.repeat(63)}`)).toEqual({ matchLabels: { k: 'v'.repeat(63) } });
  });
});

describe('parseLabelSelector: refusals are usage errors naming the flag', () => {
  it.each([
    ['empty', '', /an empty selector/],
    ['blank', '   ', /an empty selector/],
    ['a key starting with -', '-app=web', /"-app" is not a label key/],
    ['a key with two slashes', 'a/b/c=d', /not a label key/],
    ['an upper-case prefix', 'Example.com/a=b', /not a label key/],
    ['a key name over 63 characters', `${'k'.repeat(64)}=v`, /not a label key/],
    ['a key prefix over 253 characters', `${'p'.repeat(254)}/k`, /not a label key/],
    ['a value with a space', 'app in (a b)', /"a b" is not a label value/],
    ['a value with a slash', 'app=a/b', /"a\/b" is not a label value/],
    ['a value over 63 characters', `app=${'v'.repeat(64)}`, /is not a label value/],
    ['a value ending in -', 'app!=web-', /"web-" is not a label value/],
    ['k=a,k=b', 'app=a,app=b', /app asked to equal two values/],
    ['k in ()', 'env in ()', /no values/],
    ['an unclosed parenthesis', 'env in (a,b', /cannot read "env in \(a,b"/],
    ['words', 'app web', /cannot read "app web"/],
    ['an empty term', 'a,,b', /cannot read ""/],
    ['==v with no key', '==v', /"==v" is not a label key/],
  ])('%s', (_what, text, message) => {
    const e = refusal(text);
    expect(e.exitCode).toBe(EXIT_USAGE);
    expect(e.message).toMatch(/^-l: /);
    expect(e.message).toMatch(message);
    expect(e.message).not.toContain('\n');
  });

  it('names whichever flag the caller names', () => {
    expect(refusal('a b', '--selector').message).toMatch(/^--selector: /);
    expect(refusal('', '--selector').message).toBe('--selector: an empty selector');
  });
});
