/**
 * Where C names become JavaScript names, once. The binding passes the names of C and C++ struct
 * fields as C spells them (`events_written`, `nr_cpu_ids`, `metadata_bytes`); the front turns
 * them into camelCase here. Names of kernel things (probes, events, their fields) are data and
 * are never renamed.
 */

/** `events_written` → `eventsWritten`. */
export function camelCase(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/**
 * The same object with every key in camelCase, through arrays and nested plain objects. Only for
 * objects whose keys are all field names (device info, statistics, snapshot results).
 */
export function camelKeys<T>(value: unknown): T {
  return convert(value) as T;
}

function convert(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(convert);
  if (
    value === null ||
    typeof value !== 'object' ||
    Object.getPrototypeOf(value) !== Object.prototype
  )
    return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [camelCase(k), convert(v)]));
}
