/**
 * One list of variables: the environment the chart gives each process is exactly what that
 * process's configuration schema reads (agent/config.ts, controller/config.ts). Checked both
 * ways for the defaults and every ci/ scenario: a variable the chart sets that nothing reads
 * is a value that does nothing; a variable the schema reads that the chart does not set must
 * have a documented default and be listed below with the reason the chart leaves it alone.
 * `extraEnv` entries are the user's and are left out.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { load } from 'js-yaml';
import type { ZodObject } from 'zod';
import { agentConfig, agentEnvironment } from '../../agent/config';
import { variableNames } from '../../common/config';
import { controllerConfig, controllerEnvironment } from '../../controller/config';
import { ciScenarios, find, type K8sObject, podSpec, render } from './chart';

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string } };
}

interface Component {
  values: 'agent' | 'controller';
  workload: string;
  schema: ZodObject;
  /** Read by the schema, left to its default by the chart, and why. */
  notSetByChart: Record<string, string>;
}

const components: Component[] = [
  {
    values: 'agent',
    workload: 'DaemonSet',
    schema: agentEnvironment,
    notSetByChart: {
      REWIND_AGENT_BIND: 'the default, every address of the pod, is right in a pod',
    },
  },
  {
    values: 'controller',
    workload: 'Deployment',
    schema: controllerEnvironment,
    notSetByChart: {
      REWIND_CONTROLLER_BIND: 'the default, every address of the pod, is right in a pod',
    },
  },
];

/** The env of the workload's container named after the component. */
function envOf(objects: K8sObject[], c: Component): EnvVar[] | undefined {
  const workload = find(objects, c.workload)[0];
  if (workload === undefined) return undefined;
  const container = podSpec(workload).containers.find((x) => x.name === c.values);
  return (container as unknown as { env?: EnvVar[] }).env ?? [];
}

/** The differences between what the chart sets and what the schema reads; empty when none. */
function drift(set: string[], c: Component, userOwned: string[] = []): string[] {
  const reads = variableNames(c.schema);
  const problems: string[] = [];
  for (const name of set) {
    if (userOwned.includes(name)) continue;
    if (!reads.includes(name)) problems.push(`${name}: set by the chart, read by nothing`);
  }
  for (const name of reads) {
    if (set.includes(name)) continue;
    if (!(name in c.notSetByChart)) problems.push(`${name}: read, but the chart does not set it`);
    else if (!c.schema.shape[name].safeParse(undefined).success) {
      problems.push(`${name}: read, not set by the chart, and has no default`);
    }
  }
  const duplicates = set.filter((n, i) => set.indexOf(n) !== i);
  for (const name of duplicates) problems.push(`${name}: set twice`);
  return problems;
}

const scenarios: [string, string[]][] = [
  ['defaults', []],
  ...ciScenarios().map((f): [string, string[]] => [path.basename(f), [f]]),
];

describe.each(scenarios)('%s', (_name, valuesFiles) => {
  let objects: K8sObject[];
  const values = valuesFiles.map(
    (f) => (load(readFileSync(f, 'utf8')) ?? {}) as Record<string, { extraEnv?: EnvVar[] }>,
  );
  beforeAll(async () => {
    objects = await render({ valuesFiles });
  });

  test.each(components.map((c) => [c.values, c] as const))(
    '%s: the chart sets exactly what the schema reads',
    (_c, c) => {
      const env = envOf(objects, c);
      if (env === undefined) return; // the component is disabled in this scenario
      const userOwned = values.flatMap((v) => (v[c.values]?.extraEnv ?? []).map((e) => e.name));
      expect(
        drift(
          env.map((e) => e.name),
          c,
          userOwned,
        ),
      ).toEqual([]);
    },
  );
});

describe('the check itself', () => {
  test('finds a variable nothing reads, one the chart forgot, and a forgotten default', () => {
    const [agent] = components;
    expect(drift(['NODE_NAME', 'REWIND_AGENT_HEALTH_PORT', 'REWIND_BOGUS'], agent)).toEqual([
      'REWIND_BOGUS: set by the chart, read by nothing',
      'REWIND_DRAIN_SECONDS: read, but the chart does not set it',
      'REWIND_LOG_LEVEL: read, but the chart does not set it',
    ]);
    const noDefault = { ...agent, notSetByChart: { ...agent.notSetByChart, NODE_NAME: 'x' } };
    expect(
      drift(['REWIND_AGENT_HEALTH_PORT', 'REWIND_DRAIN_SECONDS', 'REWIND_LOG_LEVEL'], noDefault),
    ).toEqual(['NODE_NAME: read, not set by the chart, and has no default']);
  });

  test('an extra variable through extraEnv on the command line is caught', async () => {
    const objects = await render({
      set: ['agent.extraEnv[0].name=REWIND_BOGUS', 'agent.extraEnv[0].value=1'],
    });
    expect(
      drift(
        envOf(objects, components[0])!.map((e) => e.name),
        components[0],
      ),
    ).toEqual(['REWIND_BOGUS: set by the chart, read by nothing']);
  });
});

describe('the processes accept the environment the chart gives them', () => {
  /** Plain `value:` entries as given; downward-API ones filled in as the kubelet would. */
  const kubelet = (env: EnvVar[], fields: Record<string, string>): NodeJS.ProcessEnv =>
    Object.fromEntries(
      env.map((e) => [e.name, e.value ?? fields[e.valueFrom?.fieldRef?.fieldPath ?? '']]),
    );

  test('agent: one port name from values to variable to field, NODE_NAME from the node', async () => {
    const objects = await render({
      set: ['agent.healthPort=9191', 'agent.drainSeconds=7', 'agent.logLevel=debug'],
    });
    const env = envOf(objects, components[0])!;
    expect(env.find((e) => e.name === 'NODE_NAME')?.valueFrom?.fieldRef?.fieldPath).toBe(
      'spec.nodeName',
    );
    const config = agentConfig(kubelet(env, { 'spec.nodeName': 'node-a' }));
    expect(config).toEqual({
      healthPort: 9191,
      bind: '0.0.0.0',
      nodeName: 'node-a',
      drainMs: 7000,
      logLevel: 'debug',
    });
    const ports = (
      podSpec(find(objects, 'DaemonSet')[0]).containers[0] as unknown as {
        ports: { name: string; containerPort: number }[];
      }
    ).ports;
    expect(ports.find((p) => p.name === 'health')?.containerPort).toBe(9191);
  });

  test('controller', async () => {
    const objects = await render({
      set: ['controller.healthPort=9292', 'controller.drainSeconds=9', 'controller.logLevel=warn'],
    });
    const config = controllerConfig(kubelet(envOf(objects, components[1])!, {}));
    expect(config).toEqual({ healthPort: 9292, bind: '0.0.0.0', drainMs: 9000, logLevel: 'warn' });
  });
});
