import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { RunningProducer } from '../../services/producer/service';
import { createTestNetwork, type TestNetwork } from '../../testkit/network';

const ROOT = resolve(__dirname, '../..');
/** The oracle venv scripts/oracles/setup.sh makes (npm run test:setup). */
const SCHEMATHESIS = join(ROOT, '.cache/oracle-venv/bin/schemathesis');
const HOOKS = join(ROOT, 'test/fixtures/schemathesis/hooks.py');
/** Per operation; keeps the run within about two minutes on two shared cores. */
const MAX_EXAMPLES = Number(process.env.SCHEMATHESIS_MAX_EXAMPLES ?? 20);
const SEED = 14_2026;

/**
 * schemathesis against a real producer on a real broker, from the OpenAPI
 * document the producer serves: every operation, positive and negative
 * data, every check. Any failure fails the test, "schema-valid request
 * rejected" included, so the document has to say what the server enforces.
 */
describe('the producer API under schemathesis', () => {
  let net: TestNetwork;
  let producer: RunningProducer;
  let reports: string;

  beforeAll(async () => {
    net = await createTestNetwork([{ id: 'facebook' }, { id: 'fbi', kind: 'government' }], [], {
      // Thousands of requests from one address, many with wrong keys on purpose (ignored_auth).
      producer: { maxBatchItems: 10, rateLimitPerMinute: 1_000_000, authFailuresPerMinute: 1_000_000 },
    });
    producer = await net.startProducer('facebook');
    reports = mkdtempSync(join(tmpdir(), 'tr-schemathesis-'));
  });

  afterAll(async () => {
    await producer?.close();
    await net?.close();
    rmSync(reports, { recursive: true, force: true });
  });

  it('finds no failure of any check', async () => {
    const args = [
      'run',
      `${producer.url}/openapi.json`,
      '--header',
      `Authorization: Bearer ${net.apiKeys.facebook}`,
      '--checks',
      'all',
      '--mode',
      'all',
      '--phases',
      'examples,coverage,fuzzing',
      '--max-examples',
      String(MAX_EXAMPLES),
      '--seed',
      String(SEED),
      '--workers',
      '1',
      '--request-timeout',
      '15',
      '--report',
      'har',
      '--report-har-path',
      join(reports, 'run.har'),
    ];
    const result = await new Promise<{ code: number; out: string }>((done) => {
      execFile(
        SCHEMATHESIS,
        args,
        {
          cwd: reports,
          timeout: 280_000,
          maxBuffer: 64 * 1024 * 1024,
          env: { ...process.env, SCHEMATHESIS_HOOKS: 'hooks', PYTHONPATH: join(HOOKS, '..'), NO_COLOR: '1' },
        },
        (err, stdout, stderr) =>
          done({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: `${stdout}\n${stderr}` }),
      );
    });
    // The summary (requests sent, failures by check) goes to the test log for the record.
    console.log(result.out.split('\n').slice(-60).join('\n'));
    // Every request sent, from the HAR record: the runs must reach 202s on every publishing route.
    const har = JSON.parse(readFileSync(join(reports, 'run.har'), 'utf8')) as {
      log: { entries: { request: { method: string; url: string }; response: { status: number } }[] };
    };
    const counts: Record<string, number> = {};
    for (const e of har.log.entries) {
      const key = `${e.request.method} ${new URL(e.request.url).pathname} ${e.response.status}`;
      counts[key] = (counts[key] ?? 0) + 1;
    }
    console.log(`schemathesis: ${har.log.entries.length} requests\n${JSON.stringify(counts, null, 1)}`);
    expect(result.out).toMatch(/Operations:\s+\d+ selected/);
    expect(result.out).not.toMatch(/FAILURES/);
    expect(result.code).toBe(0);
    for (const path of ['/v1/indicators', '/v1/indicators/revoke', '/v1/stix', '/v1/misp/events']) {
      expect(counts[`POST ${path} 202`]).toBeGreaterThan(0);
    }
  }, 300_000);
});
