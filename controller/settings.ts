/**
 * Every setting of `rewind-controller`, written once (common/settings.ts): the typed
 * configuration's key, its variable, its flag, type, default and help. The schema (config.ts),
 * the command line (cli.ts), the configuration file's keys and the chart's environment
 * (test/k8s/chart-env.test.ts) are derived from this table.
 */
import { z } from 'zod';
import { bindAddress, dns1123Subdomain, port, seconds } from '../common/config';
import {
  absolutePath,
  boolean,
  integer,
  processSettings,
  list,
  setting,
  tlsSettings,
  settingsVariables,
  type Settings,
} from '../common/settings';

const nonEmpty = z.string().min(1, 'must not be empty');
const optionalPath = z
  .string()
  .regex(/^(\/[^\0]*)?$/, 'must be an absolute path')
  .default('');
const labelName = (fallback: string) =>
  z
    .string()
    .regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'must be a Prometheus label name')
    .default(fallback);
/** HOST:PORT or NODE=HOST:PORT (standalone agents). */
const agentAddress = z
  .string()
  .regex(
    /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?=)?(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/,
    'must be HOST:PORT or NODE=HOST:PORT',
  );
const bytes = (fallback: number) => integer(fallback, 0, Number.MAX_SAFE_INTEGER);
const GIB = 1024 ** 3;

export const controllerSettings = {
  // ---- process ----
  bind: setting(
    'REWIND_CONTROLLER_BIND',
    'bind',
    bindAddress('0.0.0.0'),
    'Address to listen on (default: every address of the pod).',
  ),
  apiPort: setting(
    'REWIND_CONTROLLER_API_PORT',
    'api-port',
    port(9411),
    'HTTPS port of the API: the Alertmanager webhook (POST /v1/alerts), downloads and /v1/agents.',
  ),
  healthPort: setting(
    'REWIND_CONTROLLER_HEALTH_PORT',
    'health-port',
    port(9412),
    'Plain HTTP port of /healthz, /readyz and /metrics.',
  ),
  ...processSettings,
  // ---- identity and Kubernetes ----
  namespace: setting(
    'POD_NAMESPACE',
    'namespace',
    dns1123Subdomain().default('rewind-system'),
    'The namespace of the controller: its leader Lease and the TraceSnapshots made from alerts.',
  ),
  podName: setting(
    'POD_NAME',
    'pod-name',
    dns1123Subdomain().default('rewind-controller'),
    "This replica's name: its leader-election identity (a random suffix is added).",
  ),
  name: setting(
    'REWIND_CONTROLLER_NAME',
    'name',
    dns1123Subdomain().default('rewind-controller'),
    'The Deployment\'s name: the Lease is "<name>-leader".',
  ),
  kubeconfig: setting(
    'KUBECONFIG',
    'kubeconfig',
    optionalPath,
    'A kubeconfig file; empty: the in-cluster ServiceAccount.',
  ),
  leaderElection: setting(
    'REWIND_LEADER_ELECTION',
    'leader-election',
    boolean(true),
    'Elect a leader with a Lease, so two replicas never collect the same snapshot.',
  ),
  workers: setting(
    'REWIND_WORKERS',
    'workers',
    integer(4, 1, 64),
    'TraceSnapshots reconciled at once.',
  ),
  // ---- agents ----
  agentSelector: setting(
    'REWIND_AGENT_SELECTOR',
    'agent-selector',
    z.string().default('app.kubernetes.io/name=rewind,app.kubernetes.io/component=agent'),
    "Label selector of the agent DaemonSet's pods (in the controller's namespace).",
  ),
  agentPort: setting(
    'REWIND_AGENT_PORT',
    'agent-port',
    port(9401),
    "The agents' snapshot API port.",
  ),
  agentServerName: setting(
    'REWIND_AGENT_SERVER_NAME',
    'agent-server-name',
    nonEmpty.default('rewind-agent.rewind-system.svc'),
    "The name the agents' certificate must carry (the chart's <fullname>-agent.<ns>.svc).",
  ),
  ...tlsSettings({
    cert: "The controller's certificate (PEM): served on the API port and presented to agents.",
    ca: "The CA (PEM) that signed the agents' certificates.",
  }),
  // ---- collection ----
  concurrency: setting(
    'REWIND_COLLECT_CONCURRENCY',
    'collect-concurrency',
    integer(16, 1, 1024),
    'Agents collected at once.',
  ),
  nodeTimeoutSeconds: setting(
    'REWIND_NODE_TIMEOUT_SECONDS',
    'node-timeout-seconds',
    seconds(120, 3600),
    "Longest a node's collection (clock exchanges and snapshot) may take before it fails.",
  ),
  clockExchanges: setting(
    'REWIND_CLOCK_EXCHANGES',
    'clock-exchanges',
    integer(5, 1, 64),
    'Clock exchanges with each agent before and after its snapshot.',
  ),
  tombstoneSeconds: setting(
    'REWIND_POD_TOMBSTONE_SECONDS',
    'pod-tombstone-seconds',
    seconds(900, 86400),
    "How long a deleted pod's name is kept (the longest recorder window).",
  ),
  // ---- storage ----
  dataDir: setting(
    'REWIND_DATA_DIR',
    'data',
    absolutePath('/var/lib/rewind/traces'),
    'Where traces are stored (the chart mounts the trace volume there).',
  ),
  snapshotBudgetBytes: setting(
    'REWIND_SNAPSHOT_BUDGET_BYTES',
    'snapshot-budget-bytes',
    bytes(2 * GIB),
    "Most bytes one snapshot may store; a node's download stops there and the merged window is " +
      'shortened from its start to fit.',
  ),
  retentionSeconds: setting(
    'REWIND_RETENTION_SECONDS',
    'retention-seconds',
    seconds(7 * 86400, 10 * 365 * 86400),
    'Traces older than this are deleted (0: no age limit).',
  ),
  retentionBytes: setting(
    'REWIND_RETENTION_BYTES',
    'retention-bytes',
    bytes(8 * GIB),
    'Total bytes of stored traces; the oldest are deleted past it (0: no size limit).',
  ),
  ttlSeconds: setting(
    'REWIND_DEFAULT_TTL_SECONDS',
    'default-ttl-seconds',
    seconds(0, 31536000),
    'Delete a finished TraceSnapshot after this long when it sets no ttlSecondsAfterFinished ' +
      '(0: keep it).',
  ),
  // ---- the Alertmanager webhook ----
  webhookToken: setting(
    'REWIND_WEBHOOK_TOKEN',
    'webhook-token',
    z.string().default(''),
    'The bearer token Alertmanager presents (http_config.authorization); prefer a file.',
  ),
  webhookTokenFile: setting(
    'REWIND_WEBHOOK_TOKEN_FILE',
    'webhook-token-file',
    optionalPath,
    'A file holding the bearer token (re-read when it changes).',
  ),
  webhookMaxBytes: setting(
    'REWIND_WEBHOOK_MAX_BYTES',
    'webhook-max-bytes',
    integer(1024 * 1024, 1024, 64 * 1024 * 1024),
    'Largest webhook body accepted (413 beyond).',
  ),
  alertCooldownSeconds: setting(
    'REWIND_ALERT_COOLDOWN_SECONDS',
    'alert-cooldown-seconds',
    seconds(300, 86400),
    'After a snapshot for an alert group, its next notifications make none for this long.',
  ),
  alertDailyCap: setting(
    'REWIND_ALERT_DAILY_CAP',
    'alert-daily-cap',
    integer(50, 0, 100000),
    'Most snapshots made from alerts in 24 hours.',
  ),
  alertWindowSeconds: setting(
    'REWIND_ALERT_WINDOW_SECONDS',
    'alert-window-seconds',
    integer(30, 1, 3600),
    'Seconds of history a snapshot made from an alert asks for.',
  ),
  alertNoTarget: setting(
    'REWIND_ALERT_NO_TARGET',
    'alert-no-target',
    z.enum(['all-nodes', 'skip'], { error: 'must be all-nodes or skip' }).default('all-nodes'),
    'An alert with no node, instance or pod label: snapshot all nodes, or skip it.',
  ),
  alertNodeLabel: setting(
    'REWIND_ALERT_NODE_LABEL',
    'alert-node-label',
    labelName('node'),
    'The alert label naming a node.',
  ),
  alertInstanceLabel: setting(
    'REWIND_ALERT_INSTANCE_LABEL',
    'alert-instance-label',
    labelName('instance'),
    'The alert label naming a scrape target (host or host:port of a node).',
  ),
  alertNamespaceLabel: setting(
    'REWIND_ALERT_NAMESPACE_LABEL',
    'alert-namespace-label',
    labelName('namespace'),
    "The alert label naming a pod's namespace.",
  ),
  alertPodLabel: setting(
    'REWIND_ALERT_POD_LABEL',
    'alert-pod-label',
    labelName('pod'),
    'The alert label naming a pod.',
  ),
  alertScopeLabel: setting(
    'REWIND_ALERT_SCOPE_LABEL',
    'alert-scope-label',
    labelName('rewind_scope'),
    'The alert label saying what to snapshot: cluster (every node), node (what the labels name).',
  ),
  // ---- standalone ----
  standalone: setting(
    'REWIND_STANDALONE',
    'standalone',
    boolean(false),
    'Run without Kubernetes: agents from --agents, snapshots kept under --data.',
  ),
  agents: setting(
    'REWIND_AGENTS',
    'agents',
    list(agentAddress),
    'Standalone: the agents, comma-separated HOST:PORT or NODE=HOST:PORT (NODE defaults to HOST).',
  ),
} as const satisfies Settings;

export type ControllerSettings = typeof controllerSettings;

/** The variables the controller reads, in table order (the chart sets exactly these). */
export const controllerVariables: readonly string[] = settingsVariables(controllerSettings);
