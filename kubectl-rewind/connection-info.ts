/**
 * How `kubectl rewind` finds the controller, published by the chart as a ConfigMap in Rewind's
 * namespace (charts/rewind/templates/controller/connection.yaml) — like `kube-root-ca.crt`, a
 * well-known name any user allowed to use Rewind may read. It holds no secret: the CA's
 * certificate, the name on the controller's serving certificate, its API port and the labels of
 * its pods. The chart's test renders it and checks these keys (test/k8s/chart-connection.test.ts).
 */
import { z } from 'zod';

/** The ConfigMap's name; one Rewind per namespace. */
export const CONNECTION_CONFIGMAP = 'rewind-connection';

/** Rewind's namespace when neither `--rewind-namespace` nor REWIND_NAMESPACE says otherwise. */
export const DEFAULT_REWIND_NAMESPACE = 'rewind-system';

/** The ConfigMap's data keys, written once here. */
export const CONNECTION_KEYS = {
  /** PEM of the CA that signed the controller's certificate (tls.mode=helm). */
  ca: 'ca.crt',
  /** Or, with cert-manager, the Secret (same namespace) whose `ca.crt` holds it. */
  caSecret: 'caSecret',
  /** The DNS name the controller's certificate carries (`<fullname>-controller.<ns>.svc`). */
  serverName: 'serverName',
  /** The controller's API port in its pod (9411). */
  apiPort: 'apiPort',
  /** Label selector of the controller's pods (`k=v,k=v`). */
  controllerSelector: 'controllerSelector',
} as const;

export const connectionInfoSchema = z
  .object({
    [CONNECTION_KEYS.ca]: z.string().includes('BEGIN CERTIFICATE').optional(),
    [CONNECTION_KEYS.caSecret]: z.string().min(1).optional(),
    [CONNECTION_KEYS.serverName]: z.string().min(1),
    [CONNECTION_KEYS.apiPort]: z.string().regex(/^[1-9][0-9]{0,4}$/, 'a port number'),
    [CONNECTION_KEYS.controllerSelector]: z.string().min(1),
  })
  .refine((d) => d[CONNECTION_KEYS.ca] !== undefined || d[CONNECTION_KEYS.caSecret] !== undefined, {
    message: `needs ${CONNECTION_KEYS.ca} or ${CONNECTION_KEYS.caSecret}`,
  });

export type ConnectionInfoData = z.infer<typeof connectionInfoSchema>;
