import { agentConfig } from './config';

describe('agentConfig', () => {
  it('applies defaults and is read-only', () => {
    const c = agentConfig({ NODE_NAME: 'node-a' });
    expect(c).toEqual({ healthPort: 9090, bind: '0.0.0.0', nodeName: 'node-a', drainMs: 5000 });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('names the variable that is wrong', () => {
    expect(() => agentConfig({ REWIND_AGENT_HEALTH_PORT: '70000' })).toThrow(
      /rewind-agent: invalid configuration:\n {2}REWIND_AGENT_HEALTH_PORT: /,
    );
  });
});
