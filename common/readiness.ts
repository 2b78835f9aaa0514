/**
 * Readiness as a set of named gates. Each gate answers why the process cannot do its job yet
 * (or undefined when it can); the process is ready when every gate is open. /readyz shows the
 * closed gates with their reasons, so "not ready" always says why.
 */

/** Why the gate is closed, or undefined when it is open. Called on every /readyz. */
export type GateCheck = () => string | undefined;

export interface ClosedGate {
  name: string;
  reason: string;
}

export class ReadinessGates {
  private readonly gates = new Map<string, GateCheck>();

  /** Adds (or replaces) the gate `name`. */
  add(name: string, check: GateCheck): void {
    this.gates.set(name, check);
  }

  /** Opens the gate `name` for good. */
  remove(name: string): void {
    this.gates.delete(name);
  }

  /** The closed gates, in the order they were added. */
  closed(): ClosedGate[] {
    const closed: ClosedGate[] = [];
    for (const [name, check] of this.gates) {
      const reason = check();
      if (reason !== undefined) closed.push({ name, reason });
    }
    return closed;
  }

  ready(): boolean {
    return this.closed().length === 0;
  }

  /** "ok", or "not ready: name: reason; name: reason". */
  describe(): string {
    const closed = this.closed();
    if (closed.length === 0) return 'ok';
    return `not ready: ${closed.map((g) => `${g.name}: ${g.reason}`).join('; ')}`;
  }
}
