/**
 * charts/rewind without a cluster: lint, render every ci/ scenario, and check the properties the
 * chart promises (least privilege per container, each device access mode, TLS, scrape targets,
 * guards, schema, documentation) on the rendered objects.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  CHART_DIR,
  ciScenarios,
  containers,
  find,
  helm,
  type K8sObject,
  podSpec,
  render,
} from './chart';
import { PROBES } from '../../native';

const scenario = (name: string): string => path.join(CHART_DIR, 'ci', `${name}-values.yaml`);

/** A rule of the PrometheusRule's `rewind-capture` group, as rendered. */
interface CaptureRule {
  alert: string;
  expr: string;
  for: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** A container's startup probe: what it asks, and how long it lets the container start. */
function startupWindow(container: unknown): { path: string; port: string; seconds: number } {
  const p = (container as { startupProbe: StartupProbe }).startupProbe;
  return { ...p.httpGet, seconds: p.periodSeconds * p.failureThreshold };
}
interface StartupProbe {
  httpGet: { path: string; port: string };
  periodSeconds: number;
  failureThreshold: number;
}

describe('helm lint --strict', () => {
  test('passes with the defaults', async () => {
    const result = await helm(['lint', '--strict', CHART_DIR]);
    expect(result.stderr + result.stdout).toContain('0 chart(s) failed');
    expect(result.code).toBe(0);
  });

  test.each(ciScenarios().map((f) => [path.basename(f), f]))('passes with %s', async (_n, f) => {
    const result = await helm(['lint', '--strict', CHART_DIR, '-f', f]);
    expect(result.stderr + result.stdout).toContain('0 chart(s) failed');
    expect(result.code).toBe(0);
  });
});

/** Host paths each workload may mount: [host path, read-only], by workload name. */
function hostMounts(o: K8sObject): string[] {
  const spec = podSpec(o);
  const hostPathOf = (volume: string) =>
    spec.volumes?.find((v) => v.name === volume)?.hostPath?.path;
  return [...(spec.initContainers ?? []), ...spec.containers].flatMap((c) =>
    (c.volumeMounts ?? [])
      .filter((m) => hostPathOf(m.name) !== undefined)
      .map((m) => `${c.name}: ${hostPathOf(m.name)} -> ${m.mountPath}${m.readOnly ? ' (ro)' : ''}`),
  );
}

const LOADER_MOUNTS = [
  'loader: /lib/modules -> /lib/modules (ro)',
  'loader: /usr/src -> /usr/src (ro)',
  'loader: /var/cache/rewind/modules -> /var/cache/rewind/modules',
  'loader: /var/run/rewind/module -> /var/run/rewind/module',
  'loader: /sys/kernel/security -> /sys/kernel/security (ro)',
];
/** The loader's state, which the agent shows in /v1/status (agent.hostModuleState). */
const AGENT_MODULE_STATE = 'agent: /var/run/rewind/module -> /var/run/rewind/module (ro)';
const PLUGIN_MOUNTS = [
  'device-plugin: /var/lib/kubelet/device-plugins -> /var/lib/kubelet/device-plugins',
  'device-plugin: /dev -> /host/dev (ro)',
];

describe('helm template renders every ci scenario', () => {
  test('there are scenarios to render', () => {
    expect(ciScenarios().length).toBeGreaterThanOrEqual(5);
  });

  test.each(ciScenarios().map((f) => [path.basename(f), f]))('%s', async (_name, file) => {
    const objects = await render({ valuesFiles: [file] });
    expect(objects.length).toBeGreaterThan(3);
    for (const o of objects) {
      expect(o.metadata.labels?.['app.kubernetes.io/instance']).toBe('rewind');
      expect(o.metadata.labels?.['app.kubernetes.io/managed-by']).toBe('Helm');
      if (!o.kind.startsWith('Cluster')) expect(o.metadata.namespace).toBe('rewind-system');
    }
    // Least privilege holds in every scenario: no privileged container, except the agent in the
    // documented `deviceAccess: privileged` mode; no capability added but the loader's
    // SYS_MODULE; every capability dropped, no privilege escalation, RuntimeDefault seccomp and
    // a read-only root everywhere; no host namespace; no token mounted in a node-side pod.
    const all = containers(objects);
    const privileged = all.filter((c) => c.securityContext?.privileged === true).map((c) => c.name);
    expect(privileged).toEqual(file.endsWith('privileged-device-values.yaml') ? ['agent'] : []);
    for (const c of all.filter((x) => x.securityContext?.privileged !== true)) {
      expect([c.name, c.securityContext?.capabilities?.drop]).toEqual([c.name, ['ALL']]);
      expect([c.name, c.securityContext?.capabilities?.add ?? []]).toEqual([
        c.name,
        c.name === 'loader' ? ['SYS_MODULE'] : [],
      ]);
      expect([c.name, c.securityContext?.allowPrivilegeEscalation]).toEqual([c.name, false]);
    }
    for (const c of all)
      expect([c.name, c.securityContext?.readOnlyRootFilesystem]).toEqual([c.name, true]);
    for (const o of objects.filter((x) => ['DaemonSet', 'Deployment', 'Pod'].includes(x.kind))) {
      const spec = podSpec(o) as ReturnType<typeof podSpec> & { hostIPC?: boolean };
      expect([o.metadata.name, spec.hostPID, spec.hostNetwork, spec.hostIPC]).toEqual([
        o.metadata.name,
        undefined,
        undefined,
        undefined,
      ]);
      if (o.kind === 'DaemonSet') expect(automount(o)).toBe(false);
      // Host paths only where the design needs them; read-only but for those the loader and the
      // device plugin write (the build cache, the loader's state, the kubelet's socket folder).
      const writable = hostMounts(o).filter((m) => !m.endsWith('(ro)'));
      const allowed =
        /^(loader: \S+ -> \/var\/cache\/rewind\/modules|loader: \/var\/run\/rewind\/module -> \/var\/run\/rewind\/module|device-plugin: (\S+) -> \2)$/;
      expect(writable.filter((m) => !allowed.test(m))).toEqual([]);
      if (o.kind !== 'DaemonSet') expect(hostMounts(o)).toEqual([]);
    }
  });
});

/** The pod's automountServiceAccountToken. */
function automount(o: K8sObject): boolean | undefined {
  return (podSpec(o) as unknown as { automountServiceAccountToken?: boolean })
    .automountServiceAccountToken;
}

describe('default values', () => {
  let objects: K8sObject[];
  beforeAll(async () => {
    objects = await render();
  });

  test('renders the agent, node pods, controller, RBAC, Services, TLS, PVC, NetworkPolicies and helm test', () => {
    const kinds = objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();
    expect(kinds).toEqual(
      [
        'ClusterRole/rewind-controller',
        'ClusterRole/rewind-editor',
        'ClusterRole/rewind-viewer',
        'ClusterRoleBinding/rewind-controller',
        'ConfigMap/rewind-connection',
        'DaemonSet/rewind-agent',
        'DaemonSet/rewind-node',
        'Deployment/rewind-controller',
        'NetworkPolicy/rewind-agent',
        'NetworkPolicy/rewind-node',
        'PersistentVolumeClaim/rewind-controller-traces',
        'Pod/rewind-test',
        'Role/rewind-controller',
        'Role/rewind-kubectl',
        'RoleBinding/rewind-controller',
        'Secret/rewind-agent-tls',
        'Secret/rewind-controller-tls',
        'Secret/rewind-controller-webhook',
        'Service/rewind-agent',
        'Service/rewind-controller',
        'Service/rewind-node',
        'ServiceAccount/rewind-agent',
        'ServiceAccount/rewind-controller',
      ].sort(),
    );
  });

  test('no role is bound to the agent: its ServiceAccount is an identity without a token', () => {
    const bound = objects
      .filter((o) => o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding')
      .flatMap((o) =>
        (o as unknown as { subjects: { name: string }[] }).subjects.map((s) => s.name),
      );
    expect(bound).not.toContain('rewind-agent');
    const sa = find(objects, 'ServiceAccount', 'rewind-agent')[0] as unknown as {
      automountServiceAccountToken?: boolean;
    };
    expect(sa.automountServiceAccountToken).toBe(false);
  });

  test('agent: unprivileged, requests the device from our plugin, no init container, one host path', () => {
    const ds = find(objects, 'DaemonSet', 'rewind-agent')[0];
    const spec = podSpec(ds);
    expect(spec.serviceAccountName).toBe('rewind-agent');
    expect(automount(ds)).toBe(false);
    expect(spec.initContainers).toBeUndefined();
    expect(spec.containers.map((c) => c.name)).toEqual(['agent']);
    const agent = spec.containers[0];
    expect(agent.command).toEqual(['node', 'dist/agent/main.js', 'serve']);
    expect(agent.securityContext).toEqual({
      runAsUser: 0,
      runAsNonRoot: false,
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(agent.resources?.limits).toEqual({ memory: '512Mi', 'rewind.dev/recorder': '1' });
    expect(hostMounts(ds)).toEqual([
      'agent: /sys/fs/cgroup -> /host/sys/fs/cgroup (ro)',
      AGENT_MODULE_STATE,
    ]);
    const dsSpec = ds.spec as {
      updateStrategy: { type: string; rollingUpdate: { maxUnavailable: unknown } };
    };
    // Every agent at once: a node whose agent waits Pending for a device would otherwise hold a
    // one-at-a-time rollout for good (node-install-vm.test.ts saw it).
    expect(dsSpec.updateStrategy).toEqual({
      type: 'RollingUpdate',
      rollingUpdate: { maxUnavailable: '100%' },
    });
    expect(spec.tolerations).toEqual([{ operator: 'Exists' }]);
    const probes = agent as unknown as Record<string, { httpGet: { path: string; port: string } }>;
    expect(probes.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'health' });
    expect(probes.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'health' });
    expect(startupWindow(agent)).toEqual({ path: '/healthz', port: 'health', seconds: 300 });
  });

  test('node DaemonSet: the loader with SYS_MODULE only, the device plugin with nothing, node-critical', () => {
    const ds = find(objects, 'DaemonSet', 'rewind-node')[0];
    const spec = podSpec(ds);
    expect(spec.priorityClassName).toBe('system-node-critical');
    expect(spec.serviceAccountName).toBe('rewind-agent');
    expect(spec.tolerations).toEqual([{ operator: 'Exists' }]);
    expect(spec.containers.map((c) => [c.name, c.command])).toEqual([
      ['loader', ['node', 'dist/agent/main.js', 'load-module']],
      ['device-plugin', ['node', 'dist/agent/main.js', 'device-plugin']],
    ]);
    const [loader, plugin] = spec.containers;
    expect(loader.securityContext?.capabilities).toEqual({ drop: ['ALL'], add: ['SYS_MODULE'] });
    expect(loader.securityContext?.privileged).toBe(false);
    expect(loader.securityContext?.runAsUser).toBe(0);
    expect(plugin.securityContext?.capabilities).toEqual({ drop: ['ALL'] });
    expect(plugin.securityContext?.runAsUser).toBe(0);
    for (const c of spec.containers)
      expect((c.securityContext as { seccompProfile?: unknown }).seccompProfile).toEqual({
        type: 'RuntimeDefault',
      });
    expect(hostMounts(ds)).toEqual([...LOADER_MOUNTS, ...PLUGIN_MOUNTS]);
    // The build cache is created on first use; the rest must exist on a node.
    const types = Object.fromEntries(
      (spec.volumes ?? [])
        .filter((v) => v.hostPath)
        .map((v) => [v.hostPath!.path, (v.hostPath as { type?: string }).type]),
    );
    expect(types['/var/cache/rewind/modules']).toBe('DirectoryOrCreate');
    expect(types['/lib/modules']).toBe('Directory');
    // A node that cannot load the module keeps a ready loader: rollouts are not held hostage.
    const probe = (c: unknown, which: string) =>
      (c as Record<string, { httpGet: { path: string; port: string } }>)[which].httpGet;
    expect(probe(loader, 'readinessProbe')).toEqual({ path: '/healthz', port: 'loader-health' });
    expect(probe(loader, 'livenessProbe')).toEqual({ path: '/healthz', port: 'loader-health' });
    expect(probe(plugin, 'readinessProbe')).toEqual({ path: '/readyz', port: 'plugin-health' });
    // A slow start (a TCG VM node took over a minute) is not killed by liveness.
    expect(startupWindow(loader)).toEqual({
      path: '/healthz',
      port: 'loader-health',
      seconds: 300,
    });
    expect(startupWindow(plugin)).toEqual({
      path: '/healthz',
      port: 'plugin-health',
      seconds: 300,
    });
  });

  test('controller: non-root, read-only root filesystem, traces on the PVC', () => {
    const deploy = find(objects, 'Deployment')[0];
    const spec = podSpec(deploy);
    expect(spec.securityContext?.runAsNonRoot).toBe(true);
    expect(spec.securityContext?.runAsUser).toBeGreaterThan(0);
    const c = spec.containers[0];
    expect(c.command).toEqual(['node', 'dist/controller/main.js']);
    expect(c.securityContext?.readOnlyRootFilesystem).toBe(true);
    expect(c.securityContext?.allowPrivilegeEscalation).toBe(false);
    expect(c.securityContext?.capabilities?.drop).toEqual(['ALL']);
    const traces = spec.volumes?.find((v) => v.name === 'traces') as {
      persistentVolumeClaim?: { claimName: string };
    };
    expect(traces.persistentVolumeClaim?.claimName).toBe('rewind-controller-traces');
    expect((deploy.spec as { strategy?: { type: string } }).strategy?.type).toBe('Recreate');
  });

  test('NetworkPolicies: only the controller reaches the API port; node pods only their health ports', () => {
    type Policy = {
      podSelector: { matchLabels: Record<string, string> };
      ingress: {
        from?: { podSelector: { matchLabels: Record<string, string> } }[];
        ports: { port: string }[];
      }[];
    };
    const np = find(objects, 'NetworkPolicy', 'rewind-agent')[0].spec as Policy;
    expect(np.podSelector.matchLabels['app.kubernetes.io/component']).toBe('agent');
    const apiRules = np.ingress.filter((r) => r.ports.some((p) => p.port === 'api'));
    expect(apiRules).toHaveLength(1);
    expect(apiRules[0].from).toEqual([
      {
        podSelector: {
          matchLabels: {
            'app.kubernetes.io/name': 'rewind',
            'app.kubernetes.io/instance': 'rewind',
            'app.kubernetes.io/component': 'controller',
          },
        },
      },
    ]);
    const node = find(objects, 'NetworkPolicy', 'rewind-node')[0].spec as Policy;
    expect(node.podSelector.matchLabels['app.kubernetes.io/component']).toBe('node');
    expect(node.ingress.flatMap((r) => r.ports.map((p) => p.port))).toEqual([
      'loader-health',
      'plugin-health',
    ]);
  });

  test('Service ports resolve to the containers: api 9401, health 9402, loader 9403, plugin 9404; controller api 9411, health 9412', () => {
    const resolved = (service: string, workload: string, kind = 'DaemonSet') => {
      const ports = (
        find(objects, 'Service', service)[0].spec as {
          ports: { name: string; port: number; targetPort: string }[];
        }
      ).ports;
      const named = podSpec(find(objects, kind, workload)[0]).containers.flatMap(
        (c) => (c as unknown as { ports: { name: string; containerPort: number }[] }).ports,
      );
      return ports.map((p) => [
        p.name,
        p.port,
        named.find((n) => n.name === p.targetPort)?.containerPort,
      ]);
    };
    expect(resolved('rewind-agent', 'rewind-agent')).toEqual([
      ['api', 9401, 9401],
      ['health', 9402, 9402],
    ]);
    expect(resolved('rewind-node', 'rewind-node')).toEqual([
      ['loader-health', 9403, 9403],
      ['plugin-health', 9404, 9404],
    ]);
    expect(resolved('rewind-controller', 'rewind-controller', 'Deployment')).toEqual([
      ['api', 9411, 9411],
      ['health', 9412, 9412],
    ]);
  });

  test('values reused from a chart without startup probes (helm upgrade --reuse-values) render, without them', async () => {
    // Helm's --reuse-values takes the previous release's values, not this values.yaml: a
    // release made before startup probes existed has none, and must still upgrade.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rewind-chart-'));
    const file = path.join(dir, 'old-values.yaml');
    writeFileSync(
      file,
      [
        'agent: {startupProbe: null}',
        'controller: {startupProbe: null}',
        'node: {loader: {startupProbe: null}, devicePlugin: {startupProbe: null}}',
        '',
      ].join('\n'),
    );
    try {
      const rendered = containers(await render({ valuesFiles: [file] }));
      expect(rendered.length).toBeGreaterThanOrEqual(4);
      const has = (probe: string) =>
        rendered.filter((c) => probe in c).map((c) => `${c.workload}/${c.name}`);
      expect(has('startupProbe')).toEqual([]);
      expect(has('livenessProbe')).toHaveLength(4);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('controller: probes on the health port; the webhook token Secret is generated and mounted read-only', () => {
    const c = podSpec(find(objects, 'Deployment', 'rewind-controller')[0])
      .containers[0] as unknown as {
      livenessProbe: { httpGet: { path: string; port: string } };
      readinessProbe: { httpGet: { path: string; port: string } };
    };
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'health' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'health' });
    expect(startupWindow(c)).toEqual({ path: '/healthz', port: 'health', seconds: 300 });
    const secret = find(objects, 'Secret', 'rewind-controller-webhook')[0] as unknown as {
      type: string;
      data: Record<string, string>;
    };
    expect(secret.type).toBe('Opaque');
    expect(Object.keys(secret.data)).toEqual(['token']);
    expect(Buffer.from(secret.data.token, 'base64').toString()).toMatch(/^[A-Za-z0-9]{48}$/);
  });

  test('generated certificates chain to one CA and name the services', () => {
    const secret = (name: string): Record<string, string> =>
      (find(objects, 'Secret', name)[0] as unknown as { data: Record<string, string> }).data;
    const pem = (b64: string): string => Buffer.from(b64, 'base64').toString('utf8');
    const agent = secret('rewind-agent-tls');
    const controller = secret('rewind-controller-tls');
    expect(agent['ca.crt']).toBe(controller['ca.crt']);
    const ca = new X509Certificate(pem(agent['ca.crt']));
    expect(ca.ca).toBe(true);
    const agentCert = new X509Certificate(pem(agent['tls.crt']));
    const controllerCert = new X509Certificate(pem(controller['tls.crt']));
    expect(agentCert.verify(ca.publicKey)).toBe(true);
    expect(controllerCert.verify(ca.publicKey)).toBe(true);
    // The controller will dial pod IPs and verify this name.
    expect(agentCert.checkHost('rewind-agent.rewind-system.svc')).toBe(
      'rewind-agent.rewind-system.svc',
    );
    expect(controllerCert.checkHost('rewind-controller.rewind-system.svc')).toBeDefined();
    expect(agentCert.checkHost('rewind-controller.rewind-system.svc')).toBeUndefined();
    // The identity the agents require is the controller certificate's common name.
    const env = (
      podSpec(find(objects, 'DaemonSet', 'rewind-agent')[0]).containers[0] as unknown as {
        env: { name: string; value?: string }[];
      }
    ).env;
    const identity = env.find((e) => e.name === 'REWIND_CONTROLLER_IDENTITY')?.value;
    expect(controllerCert.subject).toBe(`CN=${identity}`);
  });
});

describe('device access modes', () => {
  const agentOf = (objects: K8sObject[]) => podSpec(find(objects, 'DaemonSet', 'rewind-agent')[0]);
  const nodeContainers = (objects: K8sObject[]) =>
    find(objects, 'DaemonSet', 'rewind-node').flatMap((o) =>
      podSpec(o).containers.map((c) => c.name),
    );

  test('privileged: the agent privileged with the host /dev read-only, no device resource, no plugin', async () => {
    const objects = await render({ valuesFiles: [scenario('privileged-device')] });
    const ds = find(objects, 'DaemonSet', 'rewind-agent')[0];
    const spec = agentOf(objects);
    expect(spec.containers[0].securityContext).toEqual({
      privileged: true,
      readOnlyRootFilesystem: true,
    });
    expect(Object.keys(spec.containers[0].resources?.limits ?? {})).toEqual(['memory']);
    expect(hostMounts(ds)).toEqual([
      'agent: /sys/fs/cgroup -> /host/sys/fs/cgroup (ro)',
      AGENT_MODULE_STATE,
      'agent: /dev -> /host/dev (ro)',
    ]);
    expect(nodeContainers(objects)).toEqual(['loader']);
    expect(hostMounts(find(objects, 'DaemonSet', 'rewind-node')[0])).toEqual(LOADER_MOUNTS);
    expect(spec.priorityClassName).toBe('system-node-critical');
    expect((ds.spec as { updateStrategy: { type: string } }).updateStrategy.type).toBe('OnDelete');
  });

  test("external: the agent requests the other plugin's resource; nothing of ours on the node", async () => {
    const objects = await render({ valuesFiles: [scenario('external-device')] });
    const agent = agentOf(objects).containers[0];
    expect(agent.securityContext?.privileged).toBe(false);
    expect(agent.resources?.limits).toEqual({ memory: '512Mi', 'smarter-devices/rewind': '1' });
    expect(find(objects, 'DaemonSet').map((o) => o.metadata.name)).toEqual(['rewind-agent']);
    expect(find(objects, 'Service', 'rewind-node')).toEqual([]);
    expect(find(objects, 'NetworkPolicy', 'rewind-node')).toEqual([]);
  });

  test('external with the loader: the node DaemonSet keeps only the loader', async () => {
    const objects = await render({
      set: ['agent.deviceAccess=external', 'agent.devicePlugin.resourceName=example.com/rewind'],
    });
    expect(nodeContainers(objects)).toEqual(['loader']);
    const ports = (find(objects, 'Service', 'rewind-node')[0].spec as { ports: { name: string }[] })
      .ports;
    expect(ports.map((p) => p.name)).toEqual(['loader-health']);
  });

  test('devicePlugin without the loader (the module loaded by other means): the plugin alone', async () => {
    const objects = await render({ set: ['node.loader.enabled=false'] });
    expect(nodeContainers(objects)).toEqual(['device-plugin']);
    expect(hostMounts(find(objects, 'DaemonSet', 'rewind-node')[0])).toEqual(PLUGIN_MOUNTS);
  });

  test("without the host cgroup tree and the loader's state the agent has no host path at all", async () => {
    const objects = await render({
      set: ['agent.hostCgroup=false', 'agent.hostModuleState=false'],
    });
    expect(hostMounts(find(objects, 'DaemonSet', 'rewind-agent')[0])).toEqual([]);
  });
});

describe('scenarios', () => {
  test('cert-manager: Certificates into the same Secrets, no chart-made keys', async () => {
    const objects = await render({ valuesFiles: [scenario('cert-manager')] });
    // The only Secret the chart makes is the webhook's bearer token (not a key: cert-manager
    // has nothing to issue there).
    expect(find(objects, 'Secret').map((o) => o.metadata.name)).toEqual([
      'rewind-controller-webhook',
    ]);
    const certs = find(objects, 'Certificate').map(
      (c) => (c.spec as { secretName: string }).secretName,
    );
    expect(certs).toEqual(expect.arrayContaining(['rewind-agent-tls', 'rewind-controller-tls']));
    expect(find(objects, 'Issuer')).toHaveLength(2);
    // The identity the agents require is the controller certificate's common name here too.
    const controllerCert = find(objects, 'Certificate', 'rewind-controller')[0].spec as {
      commonName: string;
    };
    expect(controllerCert.commonName).toBe('rewind-controller');
  });

  test('monitoring: ServiceMonitors on the health ports, the alert rules', async () => {
    const objects = await render({ valuesFiles: [scenario('monitoring')] });
    const monitors = Object.fromEntries(
      find(objects, 'ServiceMonitor').map((o) => [
        o.metadata.name,
        (o.spec as { endpoints: { port: string; path: string; relabelings?: unknown[] }[] })
          .endpoints,
      ]),
    );
    expect(Object.keys(monitors).sort()).toEqual([
      'rewind-agent',
      'rewind-controller',
      'rewind-node',
    ]);
    // Each endpoint's port name is a Service port whose number is a health port.
    const servicePort = (service: string, name: string) =>
      (
        find(objects, 'Service', service)[0].spec as { ports: { name: string; port: number }[] }
      ).ports.find((p) => p.name === name)?.port;
    const scraped = Object.entries(monitors).flatMap(([name, endpoints]) =>
      endpoints.map((e) => [name, e.path, servicePort(name, e.port), e.relabelings !== undefined]),
    );
    expect(scraped).toEqual([
      ['rewind-agent', '/metrics', 9402, true],
      ['rewind-node', '/metrics', 9403, true],
      ['rewind-node', '/metrics', 9404, true],
      ['rewind-controller', '/metrics', 9412, false],
    ]);
    const rule = find(objects, 'PrometheusRule')[0];
    expect(rule.metadata.labels?.release).toBe('kube-prometheus-stack');
    const alerts = (rule.spec as { groups: { rules: { alert: string; expr: string }[] }[] })
      .groups[0].rules;
    // The list of alerts and what each does: prometheusrule.test.ts (promtool).
    expect(alerts.find((r) => r.alert === 'RewindRecorderWindowShort')?.expr).toContain('< 30');
    expect(JSON.stringify(rule.spec)).toContain('{{ $labels.node }}');
    // The capture group, with the scenario's threshold, window, `for` and scope.
    const groups = (rule.spec as { groups: { name: string; rules: CaptureRule[] }[] }).groups;
    expect(groups.map((g) => g.name)).toEqual(['rewind', 'rewind-capture']);
    const [cpu] = groups[1].rules;
    expect(cpu.alert).toBe('RewindNodeCPUSaturated');
    expect(cpu.expr).toMatch(/\[1m\]\)\)\s*\) > 0\.8$/);
    expect(cpu.expr).not.toContain('[2m]');
    expect(cpu.for).toBe('90s');
    expect(cpu.labels).toEqual({
      severity: 'warning',
      rewind_capture: 'true',
      rewind_scope: 'cluster',
    });
    expect(cpu.annotations.description).toContain('Rewind snapshots every node');
  });

  test("the capture group: the controller's scope label name, and gone when there is nothing to alert on", async () => {
    const groupsOf = async (set: string[]) => {
      const [rule] = find(
        await render({ set: ['monitoring.prometheusRule.enabled=true', ...set] }),
        'PrometheusRule',
      );
      return (rule.spec as { groups: { name: string; rules: CaptureRule[] }[] }).groups;
    };
    const renamed = await groupsOf(['controller.webhook.labels.scope=capture_scope']);
    expect(renamed[1].rules[0].labels).toEqual({
      severity: 'warning',
      rewind_capture: 'true',
      capture_scope: 'node',
    });
    expect(renamed[1].rules[0].annotations.description).toContain('Rewind snapshots this node');
    const off = await groupsOf(['monitoring.prometheusRule.cpuSaturated.enabled=false']);
    expect(off.map((g) => g.name)).toEqual(['rewind']);
    // A controller without agents in this release: no agent metrics to alert on.
    const remote = await groupsOf(['agent.enabled=false']);
    expect(remote.map((g) => g.name)).toEqual(['rewind']);
  });

  test('HA controller: replicas on ReadWriteMany storage, image pinned by digest', async () => {
    const objects = await render({ valuesFiles: [scenario('ha-controller')] });
    const deploy = find(objects, 'Deployment', 'rewind-controller')[0];
    expect((deploy.spec as { replicas: number }).replicas).toBe(2);
    expect((deploy.spec as { strategy?: unknown }).strategy).toBeUndefined();
    expect(podSpec(deploy).containers[0].image).toBe(
      'registry.example.com/observability/rewind@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
    );
  });

  test("controller: tuned values, the user's token Secret, byte counts printed as integers", async () => {
    const objects = await render({ valuesFiles: [scenario('controller')] });
    expect(find(objects, 'Secret', 'rewind-controller-webhook')).toEqual([]);
    const spec = podSpec(find(objects, 'Deployment', 'rewind-controller')[0]);
    const env = Object.fromEntries(
      (spec.containers[0] as unknown as { env: { name: string; value?: string }[] }).env.map(
        (e) => [e.name, e.value],
      ),
    );
    expect(env).toMatchObject({
      REWIND_SNAPSHOT_BUDGET_BYTES: '10000000000',
      REWIND_RETENTION_BYTES: '100000000000',
      REWIND_RETENTION_SECONDS: '2592000',
      REWIND_WEBHOOK_MAX_BYTES: '4194304',
      REWIND_ALERT_NO_TARGET: 'skip',
    });
    expect(spec.volumes?.find((v) => v.name === 'webhook-token')).toMatchObject({
      secret: {
        secretName: 'alertmanager-rewind-token',
        items: [{ key: 'bearer', path: 'token' }],
      },
    });
  });

  test("agent only: no controller objects, no agent NetworkPolicy, the remote controller's identity", async () => {
    const objects = await render({ valuesFiles: [scenario('agent-only')] });
    expect(
      objects.some((o) => o.metadata.labels?.['app.kubernetes.io/component'] === 'controller'),
    ).toBe(false);
    expect(find(objects, 'NetworkPolicy', 'rewind-agent')).toHaveLength(0);
    expect(find(objects, 'DaemonSet')).toHaveLength(2);
    const env = (
      podSpec(find(objects, 'DaemonSet', 'rewind-agent')[0]).containers[0] as unknown as {
        env: { name: string; value?: string }[];
      }
    ).env;
    expect(env.find((e) => e.name === 'REWIND_CONTROLLER_IDENTITY')?.value).toBe(
      'rewind-controller.observability',
    );
  });
});

describe('guards and schema', () => {
  test.each([
    [['controller.replicas=2'], 'controller.replicas=2 needs shared trace storage'],
    [['agent.enabled=false', 'controller.enabled=false'], 'nothing to deploy'],
    [['controller.enabled=false'], 'agent.networkPolicy.enabled admits only this release'],
    [
      ['controller.enabled=false', 'agent.networkPolicy.enabled=false'],
      'controller.enabled is false: set agent.controllerIdentity',
    ],
    [
      ['controller.persistence.enabled=false', 'controller.persistence.existingClaim=old'],
      'existingClaim is set but controller.persistence.enabled is false',
    ],
    [['agent.serviceAccount.create=false'], 'agent.serviceAccount.name is required'],
    [
      ['controller.drainSeconds=30', 'controller.terminationGracePeriodSeconds=30'],
      'controller.drainSeconds (30) must be less than controller.terminationGracePeriodSeconds (30)',
    ],
    [
      ['node.drainSeconds=30', 'node.terminationGracePeriodSeconds=20'],
      'node.drainSeconds (30) must be less than node.terminationGracePeriodSeconds (20)',
    ],
    [['agent.healthPort=9401'], 'agent.healthPort and agent.apiPort are both 9401'],
    [
      ['node.devicePlugin.healthPort=9403'],
      'node.loader.healthPort and node.devicePlugin.healthPort are both 9403',
    ],
    [['controller.apiPort=9412'], 'controller.healthPort and controller.apiPort are both 9412'],
    [
      [
        'controller.replicas=2',
        'controller.persistence.accessMode=ReadWriteMany',
        'controller.leaderElection=false',
      ],
      'controller.replicas=2 needs controller.leaderElection=true',
    ],
    [
      ['agent.deviceAccess=external'],
      'agent.deviceAccess=external: set agent.devicePlugin.resourceName',
    ],
  ])('fails clearly on %j', async (set, message) => {
    await expect(render({ set })).rejects.toThrow(message);
  });

  test('the guards let what can work through', async () => {
    // Ports may collide across pods, and the plugin's port is free when there is no plugin.
    await expect(
      render({ set: ['agent.deviceAccess=privileged', 'node.devicePlugin.healthPort=9403'] }),
    ).resolves.toBeDefined();
    await expect(
      render({ set: ['node.loader.healthPort=9402', 'node.devicePlugin.healthPort=9401'] }),
    ).resolves.toBeDefined();
    // One replica may run without a leader; two on shared storage with one.
    await expect(render({ set: ['controller.leaderElection=false'] })).resolves.toBeDefined();
    await expect(
      render({
        set: ['controller.replicas=2', 'controller.persistence.accessMode=ReadWriteMany'],
      }),
    ).resolves.toBeDefined();
  });

  test.each([
    [['agent.bogus=1'], "additional properties 'bogus' not allowed"],
    [['bogus=1'], "additional properties 'bogus' not allowed"],
    [['agent.deviceAccess=host'], "value must be one of 'devicePlugin', 'privileged', 'external'"],
    [['agent.apiPort=70000'], 'apiPort'],
    // Gone: the port nothing served, the module parameters the module never had.
    [['agent.snapshotPort=9443'], "additional properties 'snapshotPort' not allowed"],
    [['agent.module.parameters.subbuf_size=1'], "additional properties 'module' not allowed"],
    [['tls.mode=manual'], "value must be one of 'helm', 'cert-manager'"],
    [['agent.healthPort=0'], 'healthPort'],
    [['controller.logLevel=bogus'], 'logLevel'],
    [['agent.metricsPort=9090'], "additional properties 'metricsPort' not allowed"],
    [['controller.persistence.size=lots'], 'size'],
    // Gone: the port of the webhook's placeholder (the webhook is on apiPort).
    [['controller.webhookPort=8443'], "additional properties 'webhookPort' not allowed"],
    [['controller.workers=0'], 'workers'],
    [['controller.collection.concurrency=2000'], 'concurrency'],
    [['controller.collection.bogus=1'], "additional properties 'bogus' not allowed"],
    [['controller.storage.retentionBytes=-1'], 'retentionBytes'],
    [['controller.webhook.noTarget=refuse'], "value must be one of 'all-nodes', 'skip'"],
    [['controller.webhook.labels.node=kubernetes.io/hostname'], 'node'],
    [['controller.webhook.maxBytes=100'], 'maxBytes'],
    [['controller.webhook.tokenSecret.name=Not_A_Name'], 'name'],
    [['controller.leaderElection=yes'], 'leaderElection'],
    [['agent.ring.subbufBytes=100000'], 'subbufBytes'],
    [['agent.ring.subbufs=3'], 'subbufs'],
    [['agent.ring.mode=ring'], "value must be one of 'overwrite', 'discard'"],
    [['agent.ring.probes=sched_switch\\,bogus'], 'probes'],
    [['node.loader.load=maybe'], "value must be one of 'auto', 'never'"],
    [['node.loader.allowedReleases={6.1.0 amd64}'], 'allowedReleases'],
    [['node.devicePlugin.devices=0'], 'devices'],
    [['agent.devicePlugin.resourceName=recorder'], 'resourceName'],
    [['monitoring.prometheusRule.cpuSaturated.busyRatio=0'], 'busyRatio'],
    [['monitoring.prometheusRule.cpuSaturated.busyRatio=1.5'], 'busyRatio'],
    [['monitoring.prometheusRule.cpuSaturated.window=0s'], 'window'],
    [['monitoring.prometheusRule.cpuSaturated.window=120'], 'window'],
    [['monitoring.prometheusRule.cpuSaturated.for=5 minutes'], 'for'],
    [
      ['monitoring.prometheusRule.cpuSaturated.scope=everything'],
      "value must be one of 'node', 'cluster'",
    ],
    [
      ['monitoring.prometheusRule.cpuSaturated.ratio=0.9'],
      "additional properties 'ratio' not allowed",
    ],
    [['controller.webhook.labels.scope=rewind.dev/scope'], 'scope'],
    [
      ['monitoring.prometheusRule.lostEventsRatio=0.1'],
      "additional properties 'lostEventsRatio' not allowed",
    ],
  ])('values.schema.json rejects %j', async (set, message) => {
    await expect(render({ set })).rejects.toThrow(message);
  });

  test("the schema's probe names are the module's", () => {
    const schema = JSON.parse(readFileSync(path.join(CHART_DIR, 'values.schema.json'), 'utf8'));
    const pattern: string = schema.properties.agent.properties.ring.properties.probes.pattern;
    const names = /^\^\(all\|\(([^)]*)\)/.exec(pattern)?.[1].split('|');
    expect(names).toEqual([...PROBES]);
  });

  test('the schema closes every object it describes', () => {
    const schema = JSON.parse(readFileSync(path.join(CHART_DIR, 'values.schema.json'), 'utf8'));
    const open: string[] = [];
    const walk = (node: Record<string, unknown>, at: string): void => {
      const props = node.properties as Record<string, Record<string, unknown>> | undefined;
      if (props === undefined) return;
      if (node.additionalProperties !== false) open.push(at || '(root)');
      for (const [k, v] of Object.entries(props)) walk(v, `${at}.${k}`);
    };
    walk(schema, '');
    expect(open).toEqual([]);
  });
});

describe('values.yaml', () => {
  test('every value is documented with a "# --" comment', () => {
    const lines = readFileSync(path.join(CHART_DIR, 'values.yaml'), 'utf8').split('\n');
    const undocumented: string[] = [];
    // A key is fine if its comment block starts with "# --", if it is inside a documented map,
    // or if it only groups other keys (its next line is more indented and is a key or comment).
    const documentedIndents: number[] = [];
    let comment: string[] = [];
    const keyPath: string[] = [];
    lines.forEach((line, i) => {
      const m = /^(\s*)([A-Za-z0-9_.-]+):(.*)$/.exec(line);
      if (line.trim().startsWith('#')) {
        comment.push(line.trim());
        return;
      }
      if (m === null) {
        if (line.trim() === '') comment = [];
        return;
      }
      const indent = m[1].length;
      while (
        documentedIndents.length > 0 &&
        documentedIndents[documentedIndents.length - 1] >= indent
      ) {
        documentedIndents.pop();
      }
      keyPath.length = indent / 2;
      keyPath.push(m[2]);
      const documented = comment.length > 0 && comment[0].startsWith('# --');
      const next = lines.slice(i + 1).find((l) => l.trim() !== '' && !l.trim().startsWith('#'));
      const groups =
        m[3].trim() === '' &&
        next !== undefined &&
        /^\s*[A-Za-z0-9_.-]+:/.test(next) &&
        next.search(/\S/) > indent;
      if (documented) documentedIndents.push(indent);
      else if (documentedIndents.length === 0 && !groups) undocumented.push(keyPath.join('.'));
      comment = [];
    });
    expect(undocumented).toEqual([]);
  });
});
