/**
 * One list of variables: the environment the chart gives each container is exactly what that
 * container's command reads (agent/settings.ts through `agentVariables` for the agent's three
 * commands, `controllerVariables` of controller/settings.ts for the controller). Checked both
 * ways for the defaults and
 * every ci/ scenario: a variable the chart sets that nothing reads is a value that does nothing;
 * a variable the command reads that the chart does not set must have a default and be listed
 * below with the reason the chart leaves it alone. `extraEnv` entries are the user's and are
 * left out. Then each command parses the rendered environment (as the kubelet would fill it)
 * into the configuration the values asked for.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { load } from 'js-yaml';
import { agentVariables, parseAgentConfig } from '../../agent/config';
import { COMMANDS, type CommandName, type Setting } from '../../agent/settings';
import { X509Certificate } from 'node:crypto';
import { controllerConfig, controllerVariables } from '../../controller/config';
import { controllerSettings } from '../../controller/settings';
import { ciScenarios, find, type K8sObject, podSpec, render } from './chart';

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string } };
}

type Values = Record<string, unknown>;

interface Component {
  /** The container's name in its workload. */
  container: string;
  workload: 'DaemonSet' | 'Deployment';
  /** The argv the container runs (the agent's commands are its third word). */
  command: string[];
  /** What the command reads. */
  reads: readonly string[];
  /** Whether a variable has a default the process falls back to. */
  hasDefault(variable: string): boolean;
  /** Read by the command, left to its default by the chart, and why. */
  notSetByChart: Record<string, string>;
  /** The `extraEnv` of this container in a values file: the user's own variables. */
  extraEnv(values: Values): EnvVar[];
}

const POD_BIND = 'the default, every address of the pod, is right in a pod';

/** Whether a setting of a table parses from nothing, i.e. has a default. */
const defaulted =
  (
    settings: readonly {
      variable: string;
      type: { safeParse(x: unknown): { success: boolean } };
    }[],
  ) =>
  (v: string): boolean =>
    settings.find((s) => s.variable === v)?.type.safeParse(undefined).success ?? false;

const at = (values: Values, keys: string[]): unknown =>
  keys.reduce<unknown>((v, k) => (v as Values | undefined)?.[k], values);

function agentCommand(
  container: string,
  command: CommandName,
  extraEnvAt: string[],
  notSetByChart: Record<string, string>,
): Component {
  const settings = Object.values(COMMANDS[command] as Record<string, Setting>);
  return {
    container,
    workload: 'DaemonSet',
    command: ['node', 'dist/agent/main.js', command],
    reads: agentVariables[command],
    hasDefault: defaulted(settings),
    notSetByChart,
    extraEnv: (values) => (at(values, extraEnvAt) as EnvVar[] | undefined) ?? [],
  };
}

const components: Component[] = [
  agentCommand('agent', 'serve', ['agent', 'extraEnv'], { REWIND_AGENT_BIND: POD_BIND }),
  agentCommand('loader', 'load-module', ['node', 'loader', 'extraEnv'], {
    REWIND_AGENT_BIND: POD_BIND,
    REWIND_MODULE_PREBUILT_DIR: "the image's own layout (/app/modules), not the chart's to move",
    REWIND_MODULE_SOURCE_DIR: "the image's own layout (/app/kmod), not the chart's to move",
  }),
  agentCommand('device-plugin', 'device-plugin', ['node', 'devicePlugin', 'extraEnv'], {
    REWIND_AGENT_BIND: POD_BIND,
  }),
  {
    container: 'controller',
    workload: 'Deployment',
    command: ['node', 'dist/controller/main.js'],
    reads: controllerVariables,
    hasDefault: defaulted(Object.values(controllerSettings)),
    notSetByChart: {
      REWIND_CONTROLLER_BIND: POD_BIND,
      KUBECONFIG: "empty, the default, is the pod's in-cluster ServiceAccount",
      REWIND_WEBHOOK_TOKEN:
        'the token comes from the mounted Secret (REWIND_WEBHOOK_TOKEN_FILE), never the pod spec',
      REWIND_STANDALONE: 'standalone mode is for agents outside Kubernetes; off, the default',
      REWIND_AGENTS: 'standalone only: in Kubernetes the agents are the DaemonSet pods',
    },
    extraEnv: (values) => (at(values, ['controller', 'extraEnv']) as EnvVar[] | undefined) ?? [],
  },
];

interface ContainerSpec {
  name: string;
  command?: string[];
  env?: EnvVar[];
  ports?: { name: string; containerPort: number }[];
}

/** The container named after the component, in any workload of its kind. */
function containerOf(objects: K8sObject[], c: Component): ContainerSpec | undefined {
  for (const workload of find(objects, c.workload)) {
    const found = podSpec(workload).containers.find((x) => x.name === c.container);
    if (found) return found as unknown as ContainerSpec;
  }
  return undefined;
}

/** The differences between what the chart sets and what the command reads; empty when none. */
function drift(set: string[], c: Component, userOwned: string[] = []): string[] {
  const problems: string[] = [];
  for (const name of set) {
    if (userOwned.includes(name)) continue;
    if (!c.reads.includes(name)) problems.push(`${name}: set by the chart, read by nothing`);
  }
  for (const name of c.reads) {
    if (set.includes(name)) continue;
    if (!(name in c.notSetByChart)) problems.push(`${name}: read, but the chart does not set it`);
    else if (!c.hasDefault(name)) {
      problems.push(`${name}: read, not set by the chart, and has no default`);
    }
  }
  const duplicates = set.filter((n, i) => set.indexOf(n) !== i);
  for (const name of duplicates) problems.push(`${name}: set twice`);
  return problems;
}

/** Plain `value:` entries as given; downward-API ones filled in as the kubelet would. */
const kubelet = (
  env: EnvVar[] = [],
  pod = { namespace: 'rewind-system', name: 'rewind-controller-5d8f7-x2x9q' },
): NodeJS.ProcessEnv =>
  Object.fromEntries(
    env.map((e) => [
      e.name,
      e.value ??
        (
          {
            'spec.nodeName': 'node-a',
            'metadata.namespace': pod.namespace,
            'metadata.name': pod.name,
          } as Record<string, string>
        )[e.valueFrom?.fieldRef?.fieldPath ?? ''],
    ]),
  );

const scenarios: [string, string[]][] = [
  ['defaults', []],
  ...ciScenarios().map((f): [string, string[]] => [path.basename(f), [f]]),
];

/** The containers each scenario runs (a component left out is disabled there). */
const expectedContainers: Record<string, string[]> = {
  defaults: ['agent', 'loader', 'device-plugin', 'controller'],
  'default-values.yaml': ['agent', 'loader', 'device-plugin', 'controller'],
  'agent-only-values.yaml': ['agent', 'loader', 'device-plugin'],
  'privileged-device-values.yaml': ['agent', 'loader', 'controller'],
  'external-device-values.yaml': ['agent', 'controller'],
};

describe.each(scenarios)('%s', (name, valuesFiles) => {
  let objects: K8sObject[];
  const values = valuesFiles.map((f) => (load(readFileSync(f, 'utf8')) ?? {}) as Values);
  beforeAll(async () => {
    objects = await render({ valuesFiles });
  });

  if (expectedContainers[name]) {
    test('runs the expected containers', () => {
      expect(components.filter((c) => containerOf(objects, c)).map((c) => c.container)).toEqual(
        expectedContainers[name],
      );
    });
  }

  test.each(components.map((c) => [c.container, c] as const))(
    '%s: runs its command, and the chart sets exactly what the command reads',
    (_c, c) => {
      const container = containerOf(objects, c);
      if (container === undefined) return; // the component is disabled in this scenario
      expect(container.command).toEqual(c.command);
      const userOwned = values.flatMap((v) => c.extraEnv(v).map((e) => e.name));
      expect(
        drift(
          (container.env ?? []).map((e) => e.name),
          c,
          userOwned,
        ),
      ).toEqual([]);
    },
  );

  test('controller: the environment is a configuration the controller accepts', () => {
    const container = containerOf(objects, components[3]);
    if (container === undefined) return;
    expect(() => controllerConfig(kubelet(container.env))).not.toThrow();
  });
});

describe('the check itself', () => {
  const [serve] = components;

  test('finds a variable nothing reads, one the chart forgot, and a forgotten default', () => {
    const almost = serve.reads.filter(
      (v) => !['REWIND_AGENT_BIND', 'REWIND_LOG_LEVEL', 'REWIND_RING_MODE'].includes(v),
    );
    expect(drift([...almost, 'REWIND_BOGUS'], serve)).toEqual([
      'REWIND_BOGUS: set by the chart, read by nothing',
      'REWIND_LOG_LEVEL: read, but the chart does not set it',
      'REWIND_RING_MODE: read, but the chart does not set it',
    ]);
    // NODE_NAME has no default: leaving it to the process would stop the process.
    const noDefault = { ...serve, notSetByChart: { ...serve.notSetByChart, NODE_NAME: 'x' } };
    expect(
      drift(
        almost.filter((v) => v !== 'NODE_NAME').concat('REWIND_LOG_LEVEL', 'REWIND_RING_MODE'),
        noDefault,
      ),
    ).toEqual(['NODE_NAME: read, not set by the chart, and has no default']);
  });

  test('a variable of another command is caught (the loader does not read the ring settings)', () => {
    const loader = components[1];
    const set = [
      ...loader.reads.filter((v) => v !== 'REWIND_AGENT_BIND' && !(v in loader.notSetByChart)),
      'REWIND_RING_SUBBUFS',
    ];
    expect(drift(set, loader)).toEqual(['REWIND_RING_SUBBUFS: set by the chart, read by nothing']);
  });

  test('an extra variable through extraEnv on the command line is caught', async () => {
    const objects = await render({
      set: ['node.loader.extraEnv[0].name=REWIND_BOGUS', 'node.loader.extraEnv[0].value=1'],
    });
    const loader = components[1];
    expect(
      drift(
        containerOf(objects, loader)!.env!.map((e) => e.name),
        loader,
      ),
    ).toEqual(['REWIND_BOGUS: set by the chart, read by nothing']);
  });
});

describe('the processes accept the environment the chart gives them', () => {
  const ports = (c: ContainerSpec): Record<string, number> =>
    Object.fromEntries((c.ports ?? []).map((p) => [p.name, p.containerPort]));

  test('serve: values to variables to configuration, one port name from value to field', async () => {
    const objects = await render({
      set: [
        'agent.apiPort=9501',
        'agent.healthPort=9502',
        'agent.drainSeconds=7',
        'agent.logLevel=debug',
        'agent.ring.subbufBytes=131072',
        'agent.ring.subbufs=8',
        'agent.ring.mode=discard',
        'agent.ring.probes=sched_switch\\,sys_enter',
        'agent.ring.reconfigure=true',
      ],
    });
    const agent = containerOf(objects, components[0])!;
    expect(agent.env?.find((e) => e.name === 'NODE_NAME')?.valueFrom?.fieldRef?.fieldPath).toBe(
      'spec.nodeName',
    );
    expect(parseAgentConfig('serve', { env: kubelet(agent.env) })).toEqual({
      nodeName: 'node-a',
      bind: '0.0.0.0',
      drainSeconds: 7,
      logLevel: 'debug',
      apiPort: 9501,
      healthPort: 9502,
      tlsCert: '/etc/rewind/tls/tls.crt',
      tlsKey: '/etc/rewind/tls/tls.key',
      tlsCa: '/etc/rewind/tls/ca.crt',
      // The common name of the controller certificate tls.yaml makes.
      controllerIdentity: 'rewind-controller',
      device: '/dev/rewind',
      subbufBytes: 131072,
      subbufs: 8,
      mode: 'discard',
      probes: ['sched_switch', 'sys_enter'],
      reconfigure: true,
      snapshotDir: '/var/run/rewind/snapshots',
      cgroupRoot: '/host/sys/fs/cgroup',
      moduleStateFile: '/var/run/rewind/module/state.json',
    });
    expect(ports(agent)).toEqual({ api: 9501, health: 9502 });
  });

  test('serve: the TLS files, the scratch folder and the cgroup tree are mounted where the variables say', async () => {
    const objects = await render();
    const ds = find(objects, 'DaemonSet', 'rewind-agent')[0];
    const agent = containerOf(objects, components[0])!;
    const config = parseAgentConfig('serve', { env: kubelet(agent.env) });
    const mounts = (podSpec(ds).containers[0].volumeMounts ?? []).map((m) => m.mountPath);
    for (const file of [config.tlsCert, config.tlsKey, config.tlsCa])
      expect(mounts).toContain(path.posix.dirname(file));
    expect(mounts).toContain(config.snapshotDir);
    expect(mounts).toContain(config.cgroupRoot);
  });

  test("serve and load-module: the loader's state file is in one host folder, read-only for the agent", async () => {
    const objects = await render();
    /** [host path, read-only] of the folder the container sees its state file in. */
    const stateFolder = (workload: string, index: number, command: 'serve' | 'load-module') => {
      const spec = podSpec(find(objects, 'DaemonSet', workload)[0]);
      const container = containerOf(objects, components[index])!;
      const file = parseAgentConfig(command, { env: kubelet(container.env) }).moduleStateFile;
      const mount = (spec.containers.find((c) => c.name === container.name)!.volumeMounts ?? [])
        .filter((m) => file.startsWith(`${m.mountPath}/`))
        .sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
      const volume = spec.volumes?.find((v) => v.name === mount?.name);
      return [volume?.hostPath?.path, mount?.readOnly ?? false, path.posix.basename(file)];
    };
    expect(stateFolder('rewind-node', 1, 'load-module')).toEqual([
      '/var/run/rewind/module',
      false,
      'state.json',
    ]);
    expect(stateFolder('rewind-agent', 0, 'serve')).toEqual([
      '/var/run/rewind/module',
      true,
      'state.json',
    ]);
  });

  test('serve: the privileged mode opens the host device through the /host/dev mount', async () => {
    const objects = await render({ set: ['agent.deviceAccess=privileged'] });
    const agent = containerOf(objects, components[0])!;
    const config = parseAgentConfig('serve', { env: kubelet(agent.env) });
    expect(config.device).toBe('/host/dev/rewind');
    const mounts = podSpec(find(objects, 'DaemonSet', 'rewind-agent')[0]).containers[0]
      .volumeMounts;
    expect(mounts).toContainEqual({ name: 'host-dev', mountPath: '/host/dev', readOnly: true });
  });

  test('load-module: the policy values reach the loader, the host paths are mounted', async () => {
    const objects = await render({
      set: [
        'node.loader.healthPort=9603',
        'node.loader.load=never',
        'node.loader.allowedReleases={6.1.0-28-amd64,6.12.12+bpo-amd64}',
        'node.loader.retryMaxSeconds=900',
        'node.loader.unloadOnExit=true',
        'node.drainSeconds=3',
        'node.logLevel=warn',
      ],
    });
    const loader = containerOf(objects, components[1])!;
    const config = parseAgentConfig('load-module', { env: kubelet(loader.env) });
    expect(config).toEqual({
      nodeName: 'node-a',
      bind: '0.0.0.0',
      drainSeconds: 3,
      logLevel: 'warn',
      healthPort: 9603,
      load: 'never',
      allowedReleases: ['6.1.0-28-amd64', '6.12.12+bpo-amd64'],
      prebuiltDir: '/app/modules',
      sourceDir: '/app/kmod',
      buildCacheDir: '/var/cache/rewind/modules',
      headersRoot: '/lib/modules',
      retryMaxSeconds: 900,
      unloadOnExit: true,
      moduleStateFile: '/var/run/rewind/module/state.json',
    });
    expect(ports(loader)).toEqual({ 'loader-health': 9603 });
    const spec = podSpec(find(objects, 'DaemonSet', 'rewind-node')[0]);
    const mounts = spec.containers.find((c) => c.name === 'loader')!.volumeMounts ?? [];
    const hostPathOf = (volume: string) =>
      spec.volumes?.find((v) => v.name === volume)?.hostPath?.path;
    // [mount path, host path, read-only]
    expect(mounts.map((m) => [m.mountPath, hostPathOf(m.name), m.readOnly ?? false])).toEqual(
      expect.arrayContaining([
        [config.headersRoot, '/lib/modules', true],
        ['/usr/src', '/usr/src', true],
        [config.buildCacheDir, '/var/cache/rewind/modules', false],
      ]),
    );
  });

  test('load-module: no releases given is the empty list (every release)', async () => {
    const objects = await render();
    const loader = containerOf(objects, components[1])!;
    expect(parseAgentConfig('load-module', { env: kubelet(loader.env) }).allowedReleases).toEqual(
      [],
    );
  });

  test('device-plugin: the resource the agent requests is the one advertised', async () => {
    const objects = await render({
      set: [
        'node.devicePlugin.healthPort=9604',
        'node.devicePlugin.devices=8',
        'node.devicePlugin.kubeletDir=/var/lib/k0s/kubelet/device-plugins',
        'agent.devicePlugin.resourceName=example.com/recorder',
      ],
    });
    const plugin = containerOf(objects, components[2])!;
    const config = parseAgentConfig('device-plugin', { env: kubelet(plugin.env) });
    expect(config).toEqual({
      nodeName: 'node-a',
      bind: '0.0.0.0',
      drainSeconds: 2,
      logLevel: 'info',
      healthPort: 9604,
      device: '/dev/rewind',
      watchPath: '/host/dev/rewind',
      pluginDir: '/var/lib/k0s/kubelet/device-plugins',
      resourceName: 'example.com/recorder',
      deviceCount: 8,
    });
    expect(ports(plugin)).toEqual({ 'plugin-health': 9604 });
    const agent = podSpec(find(objects, 'DaemonSet', 'rewind-agent')[0]).containers[0];
    expect(agent.resources?.limits?.[config.resourceName]).toBe('1');
    const spec = podSpec(find(objects, 'DaemonSet', 'rewind-node')[0]);
    const mounts = spec.containers.find((c) => c.name === 'device-plugin')!.volumeMounts ?? [];
    const hostPathOf = (volume: string) =>
      spec.volumes?.find((v) => v.name === volume)?.hostPath?.path;
    expect(mounts.map((m) => [m.mountPath, hostPathOf(m.name), m.readOnly ?? false])).toEqual([
      [config.pluginDir, config.pluginDir, false],
      [path.posix.dirname(config.watchPath), path.posix.dirname(config.device), true],
    ]);
  });

  test('controller: values to variables to configuration, ports by name', async () => {
    const objects = await render({
      release: 'rel',
      namespace: 'tracing',
      set: [
        'controller.apiPort=9511',
        'controller.healthPort=9512',
        'controller.drainSeconds=9',
        'controller.logLevel=warn',
        'controller.leaderElection=false',
        'controller.workers=8',
        'controller.defaultTtlSeconds=3600',
        'controller.podTombstoneSeconds=1800',
        'controller.collection.concurrency=32',
        'controller.collection.nodeTimeoutSeconds=60',
        'controller.collection.clockExchanges=9',
        // Beyond 2^31, and a round number Go would print as 1e+07 unless the chart says int.
        'controller.storage.snapshotBudgetBytes=4294967296',
        'controller.storage.retentionSeconds=10000000',
        'controller.storage.retentionBytes=17179869184',
        'controller.webhook.maxBytes=2097152',
        'controller.webhook.cooldownSeconds=600',
        'controller.webhook.dailyCap=10',
        'controller.webhook.windowSeconds=60',
        'controller.webhook.noTarget=skip',
        'controller.webhook.labels.node=kubernetes_node',
        'controller.webhook.labels.instance=target',
        'controller.webhook.labels.namespace=exported_namespace',
        'controller.webhook.labels.pod=exported_pod',
        'controller.webhook.labels.scope=capture_scope',
        'agent.apiPort=9501',
      ],
    });
    const controller = containerOf(objects, components[3])!;
    const env = kubelet(controller.env, { namespace: 'tracing', name: 'rel-rewind-controller-a1' });
    expect(controllerConfig(env)).toEqual({
      bind: '0.0.0.0',
      apiPort: 9511,
      healthPort: 9512,
      drainSeconds: 9,
      logLevel: 'warn',
      namespace: 'tracing',
      podName: 'rel-rewind-controller-a1',
      name: 'rel-rewind-controller',
      kubeconfig: '',
      leaderElection: false,
      workers: 8,
      agentSelector:
        'app.kubernetes.io/component=agent,app.kubernetes.io/instance=rel,app.kubernetes.io/name=rewind',
      agentPort: 9501,
      agentServerName: 'rel-rewind-agent.tracing.svc',
      tlsCert: '/etc/rewind/tls/tls.crt',
      tlsKey: '/etc/rewind/tls/tls.key',
      tlsCa: '/etc/rewind/tls/ca.crt',
      concurrency: 32,
      nodeTimeoutSeconds: 60,
      clockExchanges: 9,
      tombstoneSeconds: 1800,
      dataDir: '/var/lib/rewind/traces',
      snapshotBudgetBytes: 4294967296,
      retentionSeconds: 10000000,
      retentionBytes: 17179869184,
      ttlSeconds: 3600,
      webhookToken: '',
      webhookTokenFile: '/etc/rewind/webhook/token',
      webhookMaxBytes: 2097152,
      alertCooldownSeconds: 600,
      alertDailyCap: 10,
      alertWindowSeconds: 60,
      alertNoTarget: 'skip',
      alertNodeLabel: 'kubernetes_node',
      alertInstanceLabel: 'target',
      alertNamespaceLabel: 'exported_namespace',
      alertPodLabel: 'exported_pod',
      alertScopeLabel: 'capture_scope',
      standalone: false,
      agents: [],
    });
    expect(ports(controller)).toEqual({ api: 9511, health: 9512 });
  });

  test("controller: the chart's defaults are the settings table's, but for what names this release", async () => {
    const objects = await render();
    const config = controllerConfig(kubelet(containerOf(objects, components[3])!.env));
    const release = {
      namespace: 'rewind-system',
      podName: 'rewind-controller-5d8f7-x2x9q',
      name: 'rewind-controller',
      agentSelector:
        'app.kubernetes.io/component=agent,app.kubernetes.io/instance=rewind,app.kubernetes.io/name=rewind',
      agentServerName: 'rewind-agent.rewind-system.svc',
      webhookTokenFile: '/etc/rewind/webhook/token',
    };
    expect(config).toEqual({ ...controllerConfig({}), ...release });
  });

  test("controller: the agent selector is the DaemonSet's, the server name is on the agent's certificate", async () => {
    for (const options of [{}, { release: 'other', namespace: 'ops', set: ['nameOverride=rw'] }]) {
      const objects = await render(options);
      const config = controllerConfig(kubelet(containerOf(objects, components[3])!.env));
      const ds = find(objects, 'DaemonSet').find((o) => o.metadata.name.endsWith('-agent'))!;
      const selected = Object.fromEntries(config.agentSelector.split(',').map((p) => p.split('=')));
      const dsSpec = ds.spec as {
        selector: { matchLabels: Record<string, string> };
        template: { metadata: { labels: Record<string, string> } };
      };
      expect(selected).toEqual(dsSpec.selector.matchLabels);
      expect(dsSpec.template.metadata.labels).toMatchObject(selected);
      // Not the controller's own pods: the selector names the agent component.
      expect(selected['app.kubernetes.io/component']).toBe('agent');

      const agentSecret = find(objects, 'Secret').find((o) =>
        o.metadata.name.endsWith('-agent-tls'),
      ) as unknown as { data: Record<string, string> };
      const cert = new X509Certificate(Buffer.from(agentSecret.data['tls.crt'], 'base64'));
      expect(cert.checkHost(config.agentServerName)).toBe(config.agentServerName);
      const agentPorts = ports(podSpec(ds).containers[0] as unknown as ContainerSpec);
      expect(config.agentPort).toBe(agentPorts.api);
    }
  });

  test('controller: the Lease it takes is the one its Role grants', async () => {
    const objects = await render({ release: 'other', namespace: 'ops' });
    const config = controllerConfig(
      kubelet(containerOf(objects, components[3])!.env, { namespace: 'ops', name: 'p' }),
    );
    const role = find(objects, 'Role', config.name)[0] as unknown as {
      metadata: { namespace: string };
      rules: { resources: string[]; resourceNames?: string[] }[];
    };
    expect(role.metadata.namespace).toBe(config.namespace);
    expect(role.rules.find((r) => r.resources.includes('leases') && r.resourceNames)).toMatchObject(
      { resourceNames: [`${config.name}-leader`] },
    );
  });

  test('controller: the TLS files, the webhook token and the trace volume are mounted where the variables say', async () => {
    for (const set of [
      [],
      ['controller.webhook.tokenSecret.name=mine', 'controller.webhook.tokenSecret.key=am-token'],
    ]) {
      const objects = await render({ set });
      const deploy = find(objects, 'Deployment', 'rewind-controller')[0];
      const spec = podSpec(deploy);
      const config = controllerConfig(kubelet(containerOf(objects, components[3])!.env));
      const mounts = spec.containers[0].volumeMounts ?? [];
      const volume = (mountPath: string) => {
        const m = mounts.find((x) => x.mountPath === mountPath);
        return { readOnly: m?.readOnly ?? false, ...spec.volumes?.find((v) => v.name === m?.name) };
      };
      for (const file of [config.tlsCert, config.tlsKey, config.tlsCa])
        expect(volume(path.posix.dirname(file))).toMatchObject({
          readOnly: true,
          secret: { secretName: 'rewind-controller-tls' },
        });
      const tokenSecret = set.length ? 'mine' : 'rewind-controller-webhook';
      const tokenKey = set.length ? 'am-token' : 'token';
      expect(volume(path.posix.dirname(config.webhookTokenFile))).toMatchObject({
        readOnly: true,
        secret: {
          secretName: tokenSecret,
          items: [{ key: tokenKey, path: path.posix.basename(config.webhookTokenFile) }],
        },
      });
      // The chart makes the token Secret only when the user names none.
      const made = find(objects, 'Secret', 'rewind-controller-webhook') as unknown as {
        data: Record<string, string>;
      }[];
      if (set.length) expect(made).toEqual([]);
      else
        expect(Buffer.from(made[0].data.token, 'base64').toString()).toMatch(/^[A-Za-z0-9]{48}$/);
      expect(volume(config.dataDir)).toMatchObject({
        readOnly: false,
        persistentVolumeClaim: { claimName: 'rewind-controller-traces' },
      });
    }
  });
});
