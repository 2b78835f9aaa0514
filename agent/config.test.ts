import { agentConfig, agentVariables } from './config';

describe('agentConfig', () => {
  it('applies defaults and is read-only', () => {
    const c = agentConfig({ NODE_NAME: 'node-a' });
    expect(c).toEqual({
      healthPort: 9090,
      bind: '0.0.0.0',
      nodeName: 'node-a',
      drainMs: 5000,
      logLevel: 'info',
    });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('reads the log level the chart sets', () => {
    expect(agentConfig({ NODE_NAME: 'n', REWIND_LOG_LEVEL: 'debug' }).logLevel).toBe('debug');
  });

  it('needs NODE_NAME: it is the agent identity, there is no default', () => {
    expect(() => agentConfig({})).toThrow(/^invalid configuration: NODE_NAME is not set$/);
    expect(() => agentConfig({ NODE_NAME: 'n'.repeat(254) })).toThrow(
      /^invalid configuration: NODE_NAME="n+": must be at most 253 characters/,
    );
    expect(() => agentConfig({ NODE_NAME: 'Node_A' })).toThrow(
      'NODE_NAME="Node_A": must be a DNS-1123',
    );
  });

  it('names the variable that is wrong', () => {
    expect(() => agentConfig({ NODE_NAME: 'n', REWIND_AGENT_HEALTH_PORT: '70000' })).toThrow(
      /^invalid configuration: REWIND_AGENT_HEALTH_PORT="70000": /,
    );
  });

  it('lists the variables it reads', () => {
    expect(agentVariables).toEqual([
      'REWIND_AGENT_HEALTH_PORT',
      'REWIND_AGENT_BIND',
      'NODE_NAME',
      'REWIND_DRAIN_SECONDS',
      'REWIND_LOG_LEVEL',
    ]);
  });
});
