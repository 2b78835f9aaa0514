/**
 * Kubernetes label selectors as people type them (`-l app=web,tier!=db,env in (a,b),!canary`)
 * turned into the LabelSelector a TraceSnapshot's target holds (pure). The grammar is
 * apimachinery's (labels.Parse): `k=v`, `k==v`, `k!=v`, `k in (v,…)`, `k notin (v,…)`, `k`, `!k`.
 */
import type { LabelSelector, LabelSelectorRequirement } from '../controller/model';
import { UsageError } from './errors';

const KEY =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

/** Splits on commas that are not inside parentheses. */
function terms(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out.map((t) => t.trim());
}

function checkKey(key: string, flag: string): string {
  // A qualified name: the name at most 63 characters, the DNS prefix at most 253 (apimachinery's
  // IsQualifiedName); the pattern alone does not bound them.
  const slash = key.lastIndexOf('/');
  if (!KEY.test(key) || key.length - slash - 1 > 63 || slash > 253)
    throw new UsageError(`${flag}: ${JSON.stringify(key)} is not a label key`);
  return key;
}

function checkValue(value: string, flag: string): string {
  if (value.length > 63 || !VALUE.test(value))
    throw new UsageError(`${flag}: ${JSON.stringify(value)} is not a label value`);
  return value;
}

/** Parses `text`; `flag` names the flag in errors. */
export function parseLabelSelector(text: string, flag: string): LabelSelector {
  if (!text.trim()) throw new UsageError(`${flag}: an empty selector`);
  const matchLabels: Record<string, string> = {};
  const matchExpressions: LabelSelectorRequirement[] = [];
  for (const term of terms(text)) {
    let m: RegExpExecArray | null;
    if ((m = /^(\S+?)\s+(in|notin)\s*\(([^()]*)\)$/.exec(term))) {
      const values = (m[3] as string)
        .split(',')
        .map((v) => checkValue(v.trim(), flag))
        .filter((v) => v !== '');
      if (values.length === 0) throw new UsageError(`${flag}: ${term}: no values`);
      matchExpressions.push({
        key: checkKey(m[1] as string, flag),
        operator: m[2] === 'in' ? 'In' : 'NotIn',
        values,
      });
    } else if ((m = /^([^=!\s]+)\s*!=\s*(\S*)$/.exec(term))) {
      matchExpressions.push({
        key: checkKey(m[1] as string, flag),
        operator: 'NotIn',
        values: [checkValue(m[2] as string, flag)],
      });
    } else if ((m = /^([^=!\s]+)\s*==?\s*(\S*)$/.exec(term))) {
      const key = checkKey(m[1] as string, flag);
      const value = checkValue(m[2] as string, flag);
      if (key in matchLabels && matchLabels[key] !== value)
        throw new UsageError(`${flag}: ${key} asked to equal two values`);
      matchLabels[key] = value;
    } else if ((m = /^!\s*(\S+)$/.exec(term))) {
      matchExpressions.push({ key: checkKey(m[1] as string, flag), operator: 'DoesNotExist' });
    } else if (/^\S+$/.test(term)) {
      matchExpressions.push({ key: checkKey(term, flag), operator: 'Exists' });
    } else {
      throw new UsageError(
        `${flag}: cannot read ${JSON.stringify(term)} (expected k=v, k!=v, k in (a,b), k or !k)`,
      );
    }
  }
  return {
    ...(Object.keys(matchLabels).length ? { matchLabels } : {}),
    ...(matchExpressions.length ? { matchExpressions } : {}),
  };
}
