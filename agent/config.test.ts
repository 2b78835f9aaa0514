import { parseAgentConfig, agentVariables } from './config';
import { parseCommandLine } from '../common/settings-cli';
import { agentProgram } from './cli';
import { COMMANDS } from './settings';

const node = { NODE_NAME: 'node-a' };

describe('agent configuration', () => {
  it('applies the defaults and is read-only', () => {
    const c = parseAgentConfig('serve', { env: node });
    expect(c).toMatchObject({
      nodeName: 'node-a',
      apiPort: 9401,
      healthPort: 9402,
      bind: '0.0.0.0',
      subbufBytes: 65536,
      subbufs: 16,
      mode: 'overwrite',
      probes: 'all',
      reconfigure: false,
      drainSeconds: 5,
      logLevel: 'info',
      controllerIdentity: 'rewind-controller',
    });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('needs NODE_NAME: it is the identity, there is no default', () => {
    expect(() => parseAgentConfig('serve', { env: {} })).toThrow(
      /^invalid configuration: NODE_NAME \(--node-name\) is not set$/,
    );
    expect(() => parseAgentConfig('load-module', { env: { NODE_NAME: 'Node_A' } })).toThrow(
      'NODE_NAME="Node_A": must be a DNS-1123',
    );
  });

  it('takes a flag over its variable over the file over the default', () => {
    const file = {
      path: '/etc/rewind/agent.yaml',
      text: 'subbufs: 4\nsubbufBytes: 8192\nmode: discard\n',
    };
    const c = parseAgentConfig('serve', {
      flags: { subbufs: '32' },
      env: { ...node, REWIND_RING_SUBBUF_BYTES: '16384' },
      file,
    });
    expect([c.subbufs, c.subbufBytes, c.mode]).toEqual([32, 16384, 'discard']);
  });

  it('names the setting where a bad value was given, and its value', () => {
    expect(() => parseAgentConfig('serve', { env: node, flags: { subbufs: '3' } })).toThrow(
      /^invalid configuration: --ring-subbufs="3": must be a power of two$/,
    );
    expect(() =>
      parseAgentConfig('serve', { env: { ...node, REWIND_AGENT_API_PORT: '70000' } }),
    ).toThrow(/REWIND_AGENT_API_PORT="70000": must be a port number/);
    expect(() =>
      parseAgentConfig('serve', {
        env: node,
        file: { path: 'a.yaml', text: 'probes: [sched_switch, nope]' },
      }),
    ).toThrow(/a\.yaml: probes="sched_switch,nope": must be 'all' or probe names/);
    expect(() =>
      parseAgentConfig('load-module', { env: { ...node, REWIND_MODULE_LOAD: 'maybe' } }),
    ).toThrow(/REWIND_MODULE_LOAD="maybe": must be auto or never/);
  });

  it('reads lists, booleans and probe sets', () => {
    const c = parseAgentConfig('serve', {
      env: { ...node, REWIND_PROBES: 'sched_switch, sys_enter', REWIND_RING_RECONFIGURE: 'true' },
    });
    expect(c.probes).toEqual(['sched_switch', 'sys_enter']);
    expect(c.reconfigure).toBe(true);
    const l = parseAgentConfig('load-module', {
      env: node,
      file: {
        path: 'f.yaml',
        text: 'allowedReleases: [6.1.0-57-amd64, 6.12.95+deb12-amd64]\nload: never\n',
      },
    });
    expect(l.allowedReleases).toEqual(['6.1.0-57-amd64', '6.12.95+deb12-amd64']);
    expect(l.load).toBe('never');
  });

  it('refuses an unknown key or a broken file with one line', () => {
    expect(() =>
      parseAgentConfig('serve', { env: node, file: { path: 'f.yaml', text: 'subbuf: 4' } }),
    ).toThrow(/^invalid configuration file f\.yaml: unknown setting "subbuf" \(known: /);
    expect(() =>
      parseAgentConfig('serve', { env: node, file: { path: 'f.yaml', text: 'a: [' } }),
    ).toThrow(/^invalid configuration file f\.yaml: /);
    expect(() =>
      parseAgentConfig('serve', { env: node, file: { path: 'f.yaml', text: '- 1' } }),
    ).toThrow(/must be a mapping of settings/);
  });

  it('lists the variables each command reads, from the one settings table', () => {
    expect(agentVariables.serve).toContain('REWIND_TLS_CA');
    expect(agentVariables['load-module']).toContain('REWIND_MODULE_ALLOWED_RELEASES');
    expect(agentVariables['device-plugin']).toContain('REWIND_DEVICE_RESOURCE');
    for (const [name, settings] of Object.entries(COMMANDS)) {
      const vars = Object.values(settings).map((s) => s.variable);
      expect(new Set(vars).size).toBe(vars.length);
      expect(agentVariables[name as keyof typeof agentVariables]).toEqual(vars);
    }
  });
});

describe('agent command line', () => {
  const out = { write: () => undefined, error: () => undefined };

  it('has a flag for every setting, and serve is the default command', () => {
    const inv = parseCommandLine(
      agentProgram('0.1.0'),
      ['--ring-subbufs', '8', '--ring-reconfigure'],
      out,
    );
    expect(inv?.command).toBe('serve');
    expect(inv?.flags.subbufs).toBe('8');
    expect(inv?.flags.reconfigure).toBe('true');
    const lm = parseCommandLine(
      agentProgram('0.1.0'),
      ['load-module', '--module-load', 'never', '--config', '/c.yaml'],
      out,
    );
    expect(lm).toMatchObject({ command: 'load-module', configFile: '/c.yaml' });
    expect(lm?.flags.load).toBe('never');
  });

  it('throws on an unknown flag (a usage error: exit 2) and answers --help', () => {
    expect(() => parseCommandLine(agentProgram('0.1.0'), ['serve', '--bogus'], out)).toThrow(
      /unknown option/,
    );
    let help = '';
    expect(
      parseCommandLine(agentProgram('0.1.0'), ['device-plugin', '--help'], {
        ...out,
        write: (s) => (help += s),
      }),
    ).toBeUndefined();
    expect(help).toContain('--resource-name');
    expect(help).toContain('REWIND_DEVICE_RESOURCE');
  });
});
