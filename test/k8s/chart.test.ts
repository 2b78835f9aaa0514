/**
 * charts/rewind without a cluster: lint, render every ci/ scenario, and check the properties the
 * chart promises (least privilege, TLS, guards, schema, documentation) on the rendered objects.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
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

const scenario = (name: string): string => path.join(CHART_DIR, 'ci', `${name}-values.yaml`);

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
    // Least privilege holds in every scenario: no privileged container, except the agent in
    // the documented `deviceAccess: privileged` mode; no host path (nothing loads the module
    // yet, so nothing needs the host's kernel trees).
    const privileged = containers(objects)
      .filter((c) => c.securityContext?.privileged === true)
      .map((c) => c.name);
    expect(privileged).toEqual(file.endsWith('privileged-device-values.yaml') ? ['agent'] : []);
    for (const o of objects.filter((x) => ['DaemonSet', 'Deployment', 'Pod'].includes(x.kind))) {
      expect((podSpec(o).volumes ?? []).filter((v) => v.hostPath !== undefined)).toEqual([]);
    }
  });
});

describe('default values', () => {
  let objects: K8sObject[];
  beforeAll(async () => {
    objects = await render();
  });

  test('renders the agent, controller, RBAC, Services, TLS, PVC, NetworkPolicy and helm test', () => {
    const kinds = objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();
    expect(kinds).toEqual(
      [
        'ClusterRole/rewind-agent',
        'ClusterRole/rewind-controller',
        'ClusterRoleBinding/rewind-agent',
        'ClusterRoleBinding/rewind-controller',
        'DaemonSet/rewind-agent',
        'Deployment/rewind-controller',
        'NetworkPolicy/rewind-agent',
        'PersistentVolumeClaim/rewind-controller-traces',
        'Pod/rewind-test',
        'Role/rewind-controller',
        'RoleBinding/rewind-controller',
        'Secret/rewind-agent-tls',
        'Secret/rewind-controller-tls',
        'Service/rewind-agent',
        'Service/rewind-controller',
        'ServiceAccount/rewind-agent',
        'ServiceAccount/rewind-controller',
      ].sort(),
    );
  });

  test('agent: hostPID, no init container, unprivileged agent', () => {
    const ds = find(objects, 'DaemonSet')[0];
    const spec = podSpec(ds);
    expect(spec.hostPID).toBe(true);
    expect(spec.hostNetwork).toBeUndefined();
    expect(spec.serviceAccountName).toBe('rewind-agent');
    // The module loader (`rewind-agent load-module`) comes with the agent issue.
    expect(spec.initContainers).toBeUndefined();
    const agent = spec.containers[0];
    expect(agent.command).toEqual(['node', 'dist/agent/main.js']);
    expect(agent.securityContext?.privileged).toBe(false);
    expect(agent.securityContext?.allowPrivilegeEscalation).toBe(false);
    expect(agent.securityContext?.readOnlyRootFilesystem).toBe(true);
    expect(agent.securityContext?.capabilities?.drop).toEqual(['ALL']);
    expect(agent.securityContext?.capabilities?.add ?? []).toEqual([]);
    expect(agent.resources?.limits?.['smarter-devices/rewind']).toBe('1');
    const dsSpec = ds.spec as { updateStrategy: { type: string } };
    expect(dsSpec.updateStrategy.type).toBe('RollingUpdate');
    expect(spec.tolerations).toEqual([{ operator: 'Exists' }]);
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

  test('NetworkPolicy admits only the controller to the snapshot port', () => {
    const np = find(objects, 'NetworkPolicy')[0].spec as {
      podSelector: { matchLabels: Record<string, string> };
      ingress: {
        from?: { podSelector: { matchLabels: Record<string, string> } }[];
        ports: { port: string }[];
      }[];
    };
    expect(np.podSelector.matchLabels['app.kubernetes.io/component']).toBe('agent');
    const snapshotRules = np.ingress.filter((r) => r.ports.some((p) => p.port === 'snapshot'));
    expect(snapshotRules).toHaveLength(1);
    expect(snapshotRules[0].from).toEqual([
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
  });
});

describe('scenarios', () => {
  test('privileged device access: the agent privileged, no device resource', async () => {
    const objects = await render({ valuesFiles: [scenario('privileged-device')] });
    const ds = find(objects, 'DaemonSet')[0];
    const spec = podSpec(ds);
    expect(spec.containers[0].securityContext?.privileged).toBe(true);
    expect(spec.containers[0].resources?.limits?.['smarter-devices/rewind']).toBeUndefined();
    expect(spec.priorityClassName).toBe('system-node-critical');
    expect((ds.spec as { updateStrategy: { type: string } }).updateStrategy.type).toBe('OnDelete');
  });

  test('cert-manager: Certificates into the same Secrets, no chart-made keys', async () => {
    const objects = await render({ valuesFiles: [scenario('cert-manager')] });
    expect(find(objects, 'Secret')).toHaveLength(0);
    const certs = find(objects, 'Certificate').map(
      (c) => (c.spec as { secretName: string }).secretName,
    );
    expect(certs).toEqual(expect.arrayContaining(['rewind-agent-tls', 'rewind-controller-tls']));
    expect(find(objects, 'Issuer')).toHaveLength(2);
  });

  test('monitoring: a ServiceMonitor per component and the alert rules', async () => {
    const objects = await render({ valuesFiles: [scenario('monitoring')] });
    expect(
      find(objects, 'ServiceMonitor')
        .map((o) => o.metadata.name)
        .sort(),
    ).toEqual(['rewind-agent', 'rewind-controller']);
    const rule = find(objects, 'PrometheusRule')[0];
    expect(rule.metadata.labels?.release).toBe('kube-prometheus-stack');
    const text = JSON.stringify(rule.spec);
    expect(text).toContain('RewindEventsLost');
    expect(text).toContain('{{ $labels.node }}');
    expect(text).toContain('> 0.05');
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

  test('agent only: no controller objects, no NetworkPolicy', async () => {
    const objects = await render({ valuesFiles: [scenario('agent-only')] });
    expect(
      objects.some((o) => o.metadata.labels?.['app.kubernetes.io/component'] === 'controller'),
    ).toBe(false);
    expect(find(objects, 'NetworkPolicy')).toHaveLength(0);
    expect(find(objects, 'DaemonSet')).toHaveLength(1);
  });
});

describe('guards and schema', () => {
  test.each([
    [['controller.replicas=2'], 'controller.replicas=2 needs shared trace storage'],
    [['agent.enabled=false', 'controller.enabled=false'], 'nothing to deploy'],
    [['controller.enabled=false'], 'agent.networkPolicy.enabled admits only this release'],
    [
      ['controller.persistence.enabled=false', 'controller.persistence.existingClaim=old'],
      'existingClaim is set but controller.persistence.enabled is false',
    ],
    [['agent.serviceAccount.create=false'], 'agent.serviceAccount.name is required'],
    [
      ['controller.drainSeconds=30', 'controller.terminationGracePeriodSeconds=30'],
      'controller.drainSeconds (30) must be less than controller.terminationGracePeriodSeconds (30)',
    ],
    [['agent.healthPort=9443'], 'agent.healthPort and agent.snapshotPort are both 9443'],
    [
      ['controller.webhookPort=9090'],
      'controller.healthPort and controller.webhookPort are both 9090',
    ],
  ])('fails clearly on %j', async (set, message) => {
    await expect(render({ set })).rejects.toThrow(message);
  });

  test.each([
    [['agent.bogus=1'], "additional properties 'bogus' not allowed"],
    [['bogus=1'], "additional properties 'bogus' not allowed"],
    [['agent.deviceAccess=host'], "value must be one of 'devicePlugin', 'privileged'"],
    [['agent.snapshotPort=70000'], 'snapshotPort'],
    [['tls.mode=manual'], "value must be one of 'helm', 'cert-manager'"],
    [['agent.healthPort=0'], 'healthPort'],
    [['controller.logLevel=bogus'], 'logLevel'],
    [['agent.metricsPort=9090'], "additional properties 'metricsPort' not allowed"],
    [['controller.persistence.size=lots'], 'size'],
  ])('values.schema.json rejects %j', async (set, message) => {
    await expect(render({ set })).rejects.toThrow(message);
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
