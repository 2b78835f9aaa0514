import { ReadinessGates } from './readiness';

describe('ReadinessGates', () => {
  it('is ready when every gate is open, and says which are closed and why', () => {
    const gates = new ReadinessGates();
    expect(gates.describe()).toBe('ok');
    let module: string | undefined = 'module not loaded: lockdown';
    let recording = false;
    gates.add('module', () => module);
    gates.add('recording', () => (recording ? undefined : 'rings not recording'));
    expect(gates.ready()).toBe(false);
    expect(gates.closed()).toEqual([
      { name: 'module', reason: 'module not loaded: lockdown' },
      { name: 'recording', reason: 'rings not recording' },
    ]);
    expect(gates.describe()).toBe(
      'not ready: module: module not loaded: lockdown; recording: rings not recording',
    );
    module = undefined;
    recording = true;
    expect(gates.ready()).toBe(true);
    gates.add('recording', () => 'replaced');
    expect(gates.describe()).toBe('not ready: recording: replaced');
    gates.remove('recording');
    expect(gates.ready()).toBe(true);
  });
});
