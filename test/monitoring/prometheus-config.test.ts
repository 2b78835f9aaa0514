/**
 * The configuration startPrometheus gives Prometheus (pure), checked by the real promtool.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { dump } from 'js-yaml';
import { prometheusConfig } from './prometheus';

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'rewind-prom-config-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('prometheusConfig', () => {
  test('a job per target job, its labels, the Alertmanager; promtool accepts it', () => {
    const config = prometheusConfig(
      {
        scrapeIntervalSeconds: 1,
        evaluationIntervalSeconds: 2,
        targets: [
          { job: 'rewind-agent', address: '127.0.0.1:9402', labels: { node: 'node-a' } },
          { job: 'rewind-controller', address: '127.0.0.1:9412', labels: {} },
          { job: 'rewind-agent', address: '127.0.0.1:9502', labels: { node: 'node-b' } },
        ],
        alertmanagerUrl: 'http://127.0.0.1:9093',
      },
      path.join(dir, 'rules.yml'),
    );
    expect(config).toMatchObject({
      global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '2s' },
      scrape_configs: [
        {
          job_name: 'rewind-agent',
          static_configs: [
            { targets: ['127.0.0.1:9402'], labels: { node: 'node-a' } },
            { targets: ['127.0.0.1:9502'], labels: { node: 'node-b' } },
          ],
        },
        { job_name: 'rewind-controller', static_configs: [{ targets: ['127.0.0.1:9412'] }] },
      ],
      alerting: {
        alertmanagers: [{ scheme: 'http', static_configs: [{ targets: ['127.0.0.1:9093'] }] }],
      },
    });
    writeFileSync(path.join(dir, 'rules.yml'), 'groups: []\n');
    writeFileSync(path.join(dir, 'prometheus.yml'), dump(config));
    const r = spawnSync('promtool', ['check', 'config', path.join(dir, 'prometheus.yml')], {
      encoding: 'utf8',
    });
    expect(r.stdout + r.stderr).toContain('SUCCESS');
    expect(r.status).toBe(0);
  });
});
