/**
 * A small bounded cache whose entries expire, for the API's authorization decisions (one entry per
 * token hash and request attributes). Time comes from an injected clock so tests move it instead
 * of sleeping. Bounded because its keys come from callers: a stream of distinct tokens must not
 * grow the controller's memory; when full, expired entries go first, then the least recently used.
 */

export class TtlCache<V> {
  // A Map iterates in insertion order; a hit re-inserts its entry, so the first is the least
  // recently used.
  private readonly entries = new Map<string, { value: V; expiresAt: number }>();

  constructor(
    private readonly maxEntries: number,
    private readonly now: () => number,
  ) {
    if (!(maxEntries >= 1)) throw new Error(`cache size must be at least 1, not ${maxEntries}`);
  }

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    if (entry.expiresAt <= this.now()) return undefined;
    this.entries.set(key, entry);
    return entry.value;
  }

  set(key: string, value: V, ttlMs: number): void {
    this.entries.delete(key);
    if (ttlMs <= 0) return;
    if (this.entries.size >= this.maxEntries) this.evict();
    this.entries.set(key, { value, expiresAt: this.now() + ttlMs });
  }

  get size(): number {
    return this.entries.size;
  }

  private evict(): void {
    const now = this.now();
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(key);
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
  }
}
