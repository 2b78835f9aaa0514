import { controllerConfig, controllerVariables, parseControllerConfig } from './config';

describe('controllerConfig', () => {
  it('applies defaults', () => {
    const c = controllerConfig({});
    expect(c).toMatchObject({
      apiPort: 9411,
      healthPort: 9412,
      bind: '0.0.0.0',
      drainSeconds: 5,
      logLevel: 'info',
      agentPort: 9401,
      standalone: false,
      agents: [],
      leaderElection: true,
    });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('names the variable that is wrong', () => {
    expect(() => controllerConfig({ REWIND_DRAIN_SECONDS: 'soon' })).toThrow(
      /^invalid configuration: REWIND_DRAIN_SECONDS="soon": /,
    );
    expect(() => parseControllerConfig({ flags: { agentPort: '0x50' } })).toThrow(
      /^invalid configuration: --agent-port="0x50": /,
    );
  });

  it('refuses standalone without agents, and agents outside standalone', () => {
    expect(() => parseControllerConfig({ flags: { standalone: 'true' } })).toThrow(
      /--standalone needs the agents/,
    );
    expect(() => parseControllerConfig({ flags: { agents: 'a:9401' } })).toThrow(
      /--agents is for --standalone/,
    );
    const c = parseControllerConfig({
      flags: { standalone: 'true', agents: 'node-a=127.0.1.2:9401, 10.0.0.3:9401' },
    });
    expect(c.agents).toEqual(['node-a=127.0.1.2:9401', '10.0.0.3:9401']);
    expect(() => parseControllerConfig({ flags: { standalone: 'true', agents: 'nope' } })).toThrow(
      /--agents="nope": .*HOST:PORT/,
    );
  });

  it('lists the variables it reads, each once', () => {
    expect(controllerVariables).toContain('REWIND_CONTROLLER_API_PORT');
    expect(controllerVariables).toContain('REWIND_WEBHOOK_TOKEN_FILE');
    expect(new Set(controllerVariables).size).toBe(controllerVariables.length);
  });
});
