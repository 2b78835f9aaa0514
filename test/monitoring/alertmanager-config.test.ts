/**
 * The Alertmanager configuration made from NOTES text (pure, on hand-written NOTES excerpts and
 * on the chart's own), each result checked by the real amtool.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { dump } from 'js-yaml';
import {
  alertmanagerConfigFromNotes,
  notesYamlBlock,
  type WebhookConnection,
} from './alertmanager-config';
import { chartAlertmanagerConfig } from './chart-monitoring';

const CONN: WebhookConnection = {
  webhookUrl: 'https://127.0.0.1:8443/v1/alerts',
  tokenFile: '/run/test/token',
  caFile: '/run/test/ca.crt',
};

const RECEIVER = `
   mount it in Alertmanager (kube-prometheus-stack: alertmanager.alertmanagerSpec.secrets:
   [rewind-webhook], at /etc/alertmanager/secrets/rewind-webhook/) and add a receiver:

  receivers:
    - name: rewind
      webhook_configs:
        - url: https://rewind-controller.monitoring.svc:9411/v1/alerts
          send_resolved: false

          http_config:
            authorization:
              credentials_file: /etc/alertmanager/secrets/rewind-webhook/token
            tls_config:
              ca_file: /etc/alertmanager/secrets/rewind-webhook/ca.crt
`;
const ROUTE = `  route:
    routes:
      - receiver: rewind
        matchers: ['rewind_capture="true"', 'severity!="info"']
        continue: true

7. Run the chart's smoke test:

  helm test rewind -n rewind-system
`;

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'rewind-am-config-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tool(name: string, args: string[], text: string): { status: number | null; out: string } {
  const file = path.join(dir, `${name}-${Math.random().toString(36).slice(2)}.yml`);
  writeFileSync(file, text);
  const r = spawnSync(name, [...args, file], { encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('notesYamlBlock', () => {
  test('cuts a block by indentation, blank lines inside kept, prose after it left out', () => {
    expect(notesYamlBlock(RECEIVER + ROUTE, 'receivers')).toEqual([
      {
        name: 'rewind',
        webhook_configs: [
          {
            url: 'https://rewind-controller.monitoring.svc:9411/v1/alerts',
            send_resolved: false,
            http_config: {
              authorization: {
                credentials_file: '/etc/alertmanager/secrets/rewind-webhook/token',
              },
              tls_config: { ca_file: '/etc/alertmanager/secrets/rewind-webhook/ca.crt' },
            },
          },
        ],
      },
    ]);
    expect(notesYamlBlock(RECEIVER + ROUTE, 'route')).toEqual({
      routes: [
        {
          receiver: 'rewind',
          matchers: ['rewind_capture="true"', 'severity!="info"'],
          continue: true,
        },
      ],
    });
  });

  test('none is undefined; two are an error; a key inside prose is not a block', () => {
    expect(notesYamlBlock(RECEIVER, 'route')).toBeUndefined();
    expect(notesYamlBlock('  add a route: here\n', 'route')).toBeUndefined();
    expect(() => notesYamlBlock(ROUTE + ROUTE, 'route')).toThrow('NOTES print 2 "route:" blocks');
  });
});

describe('alertmanagerConfigFromNotes', () => {
  test("the NOTES' receiver and route, local paths and URL, under a null default; amtool accepts it", () => {
    const config = alertmanagerConfigFromNotes(RECEIVER + ROUTE, CONN);
    expect(config).toEqual({
      route: {
        receiver: 'null',
        group_wait: '1s',
        group_interval: '1s',
        repeat_interval: '1h',
        routes: [
          {
            receiver: 'rewind',
            matchers: ['rewind_capture="true"', 'severity!="info"'],
            continue: true,
          },
        ],
      },
      receivers: [
        { name: 'null' },
        {
          name: 'rewind',
          webhook_configs: [
            {
              url: CONN.webhookUrl,
              send_resolved: false,
              http_config: {
                authorization: { credentials_file: CONN.tokenFile },
                tls_config: { ca_file: CONN.caFile },
              },
            },
          ],
        },
      ],
    });
    const r = tool('amtool', ['check-config'], dump(config));
    expect(r.out).toContain('SUCCESS');
    expect(r.status).toBe(0);
  });

  test('what a test cannot stand for is an error naming it', () => {
    const cases: [string, string][] = [
      [
        RECEIVER.replace('rewind-webhook/token', 'rewind-webhook/password'),
        'rewind-webhook/password',
      ],
      [
        RECEIVER.replace('rewind-controller.monitoring.svc:9411', 'example.com'),
        'https://example.com/v1/alerts',
      ],
      [
        RECEIVER.replace(
          / *- url: .*\n *send_resolved: false\n/,
          '        - send_resolved: false\n',
        ),
        'without a webhook url',
      ],
      ['  nothing here\n', 'no receivers: block'],
      [RECEIVER, 'no route: block'],
      [RECEIVER + ROUTE.replace('receiver: rewind', 'receiver: other'), 'receiver other'],
      [RECEIVER + '  route:\n    receiver: rewind\n', 'without routes:'],
    ];
    for (const [notes, message] of cases) {
      expect(() => alertmanagerConfigFromNotes(notes, CONN)).toThrow(message);
    }
  });

  test("the chart's NOTES: its route, and a configuration amtool accepts", () => {
    const text = chartAlertmanagerConfig(CONN);
    expect(text).toContain(`url: ${CONN.webhookUrl}`);
    expect(text).toContain('rewind_capture="true"');
  });
});
