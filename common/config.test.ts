import { z } from 'zod';
import {
  bindAddress,
  commonVariables,
  dns1123Subdomain,
  parseConfig,
  port,
  variableNames,
} from './config';

const schema = z.object({
  PORT: port(9090),
  BIND: bindAddress('0.0.0.0'),
  NAME: dns1123Subdomain(),
  ...commonVariables,
});
const parse = (env: NodeJS.ProcessEnv) => parseConfig(schema, { NAME: 'node-a', ...env });

describe('parseConfig', () => {
  it('applies defaults and freezes', () => {
    const c = parse({});
    expect(c).toEqual({
      PORT: 9090,
      BIND: '0.0.0.0',
      NAME: 'node-a',
      REWIND_DRAIN_SECONDS: 5,
      REWIND_LOG_LEVEL: 'info',
    });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('lists the variables in declaration order', () => {
    expect(variableNames(schema)).toEqual([
      'PORT',
      'BIND',
      'NAME',
      'REWIND_DRAIN_SECONDS',
      'REWIND_LOG_LEVEL',
    ]);
  });

  it('accepts decimal ports 0..65535 only', () => {
    expect(parse({ PORT: '0' }).PORT).toBe(0);
    expect(parse({ PORT: '65535' }).PORT).toBe(65535);
    expect(parse({ PORT: '08080' }).PORT).toBe(8080);
    for (const bad of ['', ' 80', '0x50', '1e3', '80.0', '-1', '65536', 'abc', '123456']) {
      expect(() => parse({ PORT: bad })).toThrow(
        `invalid configuration: PORT=${JSON.stringify(bad)}: must be a port number 0–65535 in decimal digits`,
      );
    }
  });

  it('says which variable is missing, and every bad one on one line', () => {
    expect(() => parseConfig(schema, {})).toThrow(/^invalid configuration: NAME is not set$/);
    let message = '';
    try {
      parse({ PORT: 'abc', BIND: 'not-an-ip', REWIND_LOG_LEVEL: 'bogus' });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toBe(
      'invalid configuration: PORT="abc": must be a port number 0–65535 in decimal digits; ' +
        'BIND="not-an-ip": must be an IPv4 or IPv6 address; ' +
        'REWIND_LOG_LEVEL="bogus": must be one of trace, debug, info, warn, error, fatal',
    );
    expect(message).not.toContain('\n');
  });

  it('takes IPv4 and IPv6 bind addresses', () => {
    expect(parse({ BIND: '::' }).BIND).toBe('::');
    expect(parse({ BIND: '127.0.0.1' }).BIND).toBe('127.0.0.1');
    expect(() => parse({ BIND: 'localhost' })).toThrow('BIND="localhost"');
  });

  it('drain seconds: decimal, 0..60', () => {
    expect(parse({ REWIND_DRAIN_SECONDS: '0.5' }).REWIND_DRAIN_SECONDS).toBe(0.5);
    for (const bad of ['', 'soon', '0x10', '61', '-1']) {
      expect(() => parse({ REWIND_DRAIN_SECONDS: bad })).toThrow(
        `REWIND_DRAIN_SECONDS=${JSON.stringify(bad)}`,
      );
    }
  });

  it('names: DNS-1123 subdomains up to 253 characters', () => {
    const label = 'a'.repeat(63);
    const longest = [label, label, label, 'b'.repeat(61)].join('.');
    expect(longest).toHaveLength(253);
    expect(parse({ NAME: longest }).NAME).toBe(longest);
    expect(parse({ NAME: 'ip-10-0-0-1.eu-west-1.compute.internal' }).NAME).toBeDefined();
    expect(() => parse({ NAME: `${longest}c` })).toThrow('must be at most 253 characters');
    expect(() => parse({ NAME: '' })).toThrow('NAME="": must not be empty');
    for (const bad of ['Node-A', 'node_a', '-node', 'node-', 'a..b', 'node a']) {
      expect(() => parse({ NAME: bad })).toThrow('must be a DNS-1123 subdomain');
    }
  });
});
