/**
 * `npm run test:stack` (driven by scripts/docker/test-stack.sh): the
 * operator's compose stack, run for real on a Docker engine.
 *
 * A fresh .env from `keys compose-env` (in a temp folder, not the clone's
 * .env), a compose project of its own (threatrelay-stack-<pid>), the images
 * named by KAFKA_IMAGE / REDIS_IMAGE / NODE_IMAGE. Checks, in order:
 *   1. `docker compose up --wait`: every service healthy;
 *   2. facebook and google publish through their producers' published ports;
 *   3. at the receiver: every delivery verified, the shared indicator once per
 *      subscription, dhs-all's corroboration;
 *   4. the TLP:RED indicator reaches fbi-all only;
 *   5. odni-stix gets STIX 2.1 bundles;
 *   6. fbi's TAXII server (published port 8096): its reader signs in with the
 *      .env's password, wrong credentials get 401, and what the producers
 *      published is in fbi's collections, TLP:RED in `direct` only;
 *   7. a subscriber container killed mid-stream: nothing lost, nothing
 *      delivered twice (a repeat carries the same webhook-id: a retry);
 *   8. the `ha` profile (three brokers, replication factor 3) comes up healthy;
 *   9. a broker that is not the controller killed mid-publish: 0 lost, 0 duplicates.
 * `docker compose down -v` after each phase, on failure and on SIGINT/SIGTERM.
 * Last line: `stack: N passed, M failed`; exit 1 if any failed.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  generateComposeEnv,
  parseDotenv,
  readComposeStack,
  type ComposeEnv,
} from '../../services/cli/compose-env';

const root = resolve(__dirname, '../..');
const work = mkdtempSync(join(tmpdir(), 'threatrelay-stack-'));
const project = `threatrelay-stack-${process.pid}`;
const run = randomBytes(3).toString('hex');
const started = Date.now();
const seconds = (since: number): string => `${((Date.now() - since) / 1000).toFixed(1)} s`;
const log = (line: string): void => console.log(`stack: ${line}`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---- docker compose, on this run's project and env file

let envFile = '';
let projectUp = false;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}
function sh(
  cmd: string,
  args: string[],
  timeoutMs: number,
  extraEnv: Record<string, string> = {},
): Promise<Result> {
  return new Promise((resolveRun) => {
    execFile(
      cmd,
      args,
      { cwd: root, timeout: timeoutMs, maxBuffer: 256 * 1024 * 1024, env: { ...process.env, ...extraEnv } },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolveRun({ code, stdout, stderr: err && !stderr ? String(err.message) : stderr });
      },
    );
  });
}
const compose = (args: string[], timeoutMs = 120_000): Promise<Result> =>
  sh(
    'docker',
    ['compose', '-p', project, '--project-directory', root, '--env-file', envFile, ...args],
    timeoutMs,
  );
async function composeOk(args: string[], timeoutMs = 120_000): Promise<string> {
  const r = await compose(args, timeoutMs);
  if (r.code !== 0)
    throw new Error(`docker compose ${args.join(' ')} exited ${r.code}:\n${tail(r.stderr || r.stdout, 30)}`);
  return r.stdout;
}
const tail = (text: string, n: number): string => text.trimEnd().split('\n').slice(-n).join('\n');

async function down(): Promise<void> {
  if (!envFile) return;
  const t0 = Date.now();
  const r = await compose(['--profile', 'ha', 'down', '-v', '--remove-orphans', '--timeout', '20'], 180_000);
  projectUp = false;
  if (r.code !== 0) log(`docker compose down -v failed (${r.code}): ${tail(r.stderr, 5)}`);
  else log(`down -v in ${seconds(t0)}`);
}

// ---- the receiver's log: every verified delivery is one JSON line on its stdout

interface NativeEvent {
  type: string;
  eventId?: string;
  sourceCount?: number;
  sources?: string[];
  indicator: { value: string; tlp: string };
}
interface Delivery {
  subscription: string;
  webhookId: string;
  events?: NativeEvent[];
  bundle?: { type: string; objects: { type: string; pattern?: string }[] };
}
async function receiverLog(): Promise<{ deliveries: Delivery[]; rejected: string[] }> {
  const out = await composeOk(['logs', '--no-color', '--no-log-prefix', 'receiver'], 60_000);
  const deliveries: Delivery[] = [];
  const rejected: string[] = [];
  for (const line of out.split('\n')) {
    if (line.includes('rejected a request')) rejected.push(line);
    if (!line.startsWith('{')) continue;
    try {
      const d = JSON.parse(line) as Delivery;
      if (d.subscription && d.webhookId) deliveries.push(d);
    } catch {
      // not a delivery line
    }
  }
  return { deliveries, rejected };
}
const eventsOf = (deliveries: Delivery[], sub: string): (NativeEvent & { webhookId: string })[] =>
  deliveries
    .filter((d) => d.subscription === sub && d.events)
    .flatMap((d) => d.events!.map((e) => ({ ...e, webhookId: d.webhookId })));
/** value -> the distinct webhook-ids that delivered its `indicator.published`. */
function publishedBy(deliveries: Delivery[], sub: string): Map<string, Set<string>> {
  const m = new Map<string, Set<string>>();
  for (const e of eventsOf(deliveries, sub)) {
    if (e.type !== 'indicator.published') continue;
    const set = m.get(e.indicator.value) ?? new Set<string>();
    set.add(e.webhookId);
    m.set(e.indicator.value, set);
  }
  return m;
}

/** Polls `check` every `everyMs` until it returns a value, at most `timeoutMs`. */
async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs: number,
  everyMs = 2000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (let i = 0; Date.now() < deadline && i < 10_000; i++) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await sleep(everyMs);
  }
  throw new Error(
    `timed out after ${timeoutMs / 1000} s waiting for ${what}${last ? `: ${String(last)}` : ''}`,
  );
}

// ---- the producers' APIs on their published ports

const PRODUCER_PORT: Record<string, number> = {
  facebook: 8081,
  google: 8082,
  microsoft: 8083,
  twitter: 8084,
};
let env: ComposeEnv;
let dotenv: Record<string, string>;
const apiKeyOf = (org: string): string =>
  dotenv[env.variables.find((v) => v.kind === 'api-key' && v.owner === org)!.name]!;

interface Indicator {
  type: string;
  value: string;
  category: string;
  tlp: string;
  recipients?: string[];
}
/** POSTs one batch; retries a 503 or a lost answer with the same Idempotency-Key (at most `tries`). */
async function publish(org: string, body: Indicator[], key: string, tries = 1): Promise<number> {
  let last = '';
  for (let attempt = 1; attempt <= tries; attempt++) {
    try {
      const res = await fetch(`http://127.0.0.1:${PRODUCER_PORT[org]}/v1/indicators`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${apiKeyOf(org)}`,
          'content-type': 'application/json',
          'idempotency-key': key,
        },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
      const text = await res.text();
      if (res.status === 202) return (JSON.parse(text) as { accepted: number }).accepted;
      last = `${res.status} ${text.slice(0, 300)}`;
      if (res.status !== 503 && res.status !== 429) break;
    } catch (err) {
      last = String(err);
    }
    await sleep(1000);
  }
  throw new Error(`${org} publish (${key}) failed: ${last}`);
}

// ---- fbi's TAXII server on its published port

const TAXII_URL = 'http://127.0.0.1:8096';
const TAXII_MEDIA_TYPE = 'application/taxii+json;version=2.1';
/** fbi's reader in config/compose.yaml, and its password from this run's .env. */
const taxiiReader = (): { name: string; password: string } => {
  const reader = readComposeStack(root).config.taxii!.readers!.find((r) => r.org === 'fbi')!;
  const v = env.variables.find(
    (x) =>
      x.kind === 'taxii-reader-password' && `${x.name}_SHA256` === /^\$\{(.+)\}$/.exec(reader.sha256)![1],
  );
  return { name: reader.name, password: dotenv[v!.name]! };
};
const basic = (user: string, password: string): string =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
async function taxiiGet(path: string, authorization?: string): Promise<Response> {
  return fetch(`${TAXII_URL}${path}`, {
    headers: { accept: TAXII_MEDIA_TYPE, ...(authorization ? { authorization } : {}) },
    signal: AbortSignal.timeout(15_000),
  });
}

// ---- the checks

type Check = { name: string; run: () => Promise<string | void> };
let passed = 0;
let failed = 0;
async function check(c: Check): Promise<boolean> {
  const t0 = Date.now();
  try {
    const note = await c.run();
    passed++;
    log(`ok   ${c.name} (${seconds(t0)})${note ? `: ${note}` : ''}`);
    return true;
  } catch (err) {
    failed++;
    log(`FAIL ${c.name} (${seconds(t0)}): ${err instanceof Error ? err.message : String(err)}`);
    return false;
  }
}
function expectEqual(what: string, actual: unknown, expected: unknown): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: expected ${e}, got ${a}`);
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((r) => {
    const s = createServer();
    s.once('error', () => r(false));
    s.listen(port, '127.0.0.1', () => s.close(() => r(true)));
  });
}

async function upWait(profiles: string[]): Promise<string> {
  env = generateComposeEnv({ profiles });
  dotenv = parseDotenv(env.text);
  envFile = join(work, `stack-${profiles.join('-') || 'default'}.env`);
  writeFileSync(envFile, env.text, { mode: 0o600 });
  const busy: number[] = [];
  for (const p of [...Object.values(PRODUCER_PORT), 8095, 8096, 9000]) if (!(await portFree(p))) busy.push(p);
  if (busy.length) throw new Error(`127.0.0.1 ports ${busy.join(', ')} are in use; the stack publishes them`);
  projectUp = true;
  if (profiles.length === 0) {
    // The ThreatRelay image (Dockerfile), on NODE_IMAGE; cached layers make a rebuild quick.
    const tb = Date.now();
    await composeOk(['build', 'provision'], 900_000);
    log(`built threatrelay:local in ${seconds(tb)}`);
  }
  const t0 = Date.now();
  const r = await compose(['up', '--wait', '--wait-timeout', '300', '--no-build', '--quiet-pull'], 360_000);
  if (r.code !== 0) {
    const ps = await compose(['ps', '-a', '--format', '{{.Service}} {{.State}} {{.Health}} {{.Status}}']);
    throw new Error(`up --wait exited ${r.code} after ${seconds(t0)}:\n${tail(r.stderr, 15)}\n${ps.stdout}`);
  }
  const ps = await composeOk(['ps', '--format', '{{.Service}} {{.Health}}']);
  const unhealthy = ps
    .trim()
    .split('\n')
    .filter((l) => !/ healthy$/.test(l));
  if (unhealthy.length) throw new Error(`not healthy after up --wait:\n${unhealthy.join('\n')}`);
  return `${ps.trim().split('\n').length} containers healthy in ${seconds(t0)}`;
}

const containerOf = async (service: string): Promise<string[]> =>
  (await composeOk(['ps', '-q', service])).trim().split('\n').filter(Boolean);

async function main(): Promise<void> {
  log(
    `project ${project}; images ${process.env.KAFKA_IMAGE ?? '(default)'}, ${process.env.REDIS_IMAGE ?? '(default)'}, ${process.env.NODE_IMAGE ?? '(default)'}`,
  );
  const SHARED = `ballot-status-${run}.org`;
  const FACEBOOK_ONLY = `poll-worker-${run}.net`;
  const GOOGLE_ONLY = `early-results-${run}.info`;
  const RED = `relay-c2-${run}.xyz`;

  // ---------------- phase 1: the default stack
  const up = await check({ name: 'docker compose up --wait: every service healthy', run: () => upWait([]) });
  await check({
    name: 'facebook and google publish through their published ports',
    run: async () => {
      if (!up) throw new Error('the stack is not up');
      // A producer knows its own org's API keys only.
      const foreign = await fetch(`http://127.0.0.1:8081/v1/indicators`, {
        method: 'POST',
        headers: { authorization: `Bearer ${apiKeyOf('google')}`, 'content-type': 'application/json' },
        body: '[]',
      });
      expectEqual("facebook's producer answering google's key", foreign.status, 401);
      const a = await publish(
        'facebook',
        [
          { type: 'domain', value: SHARED, category: 'phishing', tlp: 'green' },
          { type: 'domain', value: FACEBOOK_ONLY, category: 'disinformation', tlp: 'green' },
          { type: 'domain', value: RED, category: 'c2', tlp: 'red', recipients: ['fbi'] },
        ],
        `stack-${run}-fb`,
      );
      const b = await publish(
        'google',
        [
          { type: 'domain', value: SHARED, category: 'phishing', tlp: 'green' },
          { type: 'domain', value: GOOGLE_ONLY, category: 'disinformation', tlp: 'amber' },
        ],
        `stack-${run}-g`,
      );
      expectEqual('accepted', [a, b], [3, 2]);
      return '3 + 2 accepted (202)';
    },
  });
  let phase1: Delivery[] = [];
  await check({
    name: 'deliveries verified, deduplicated and corroborated at the receiver',
    run: async () => {
      if (!up) throw new Error('the stack is not up');
      const summary = (sub: string): string[] =>
        eventsOf(phase1, sub)
          .map(
            (e) =>
              `${e.type} ${e.indicator.value} ${e.indicator.tlp}${e.sourceCount ? ` x${e.sourceCount}` : ''}`,
          )
          .sort();
      await waitFor(
        "every subscription's deliveries",
        async () => {
          const { deliveries, rejected } = await receiverLog();
          if (rejected.length) throw new Error(`the receiver rejected:\n${rejected.join('\n')}`);
          phase1 = deliveries;
          const stix = deliveries
            .filter((d) => d.subscription === 'odni-stix')
            .flatMap((d) => d.bundle!.objects.filter((o) => o.type === 'indicator'));
          return summary('dhs-all').length >= 4 &&
            summary('fbi-all').length >= 4 &&
            stix.length >= 3 &&
            summary('microsoft-phishing').length >= 1
            ? true
            : undefined;
        },
        120_000,
      );
      // Settle: anything delivered twice would show up in a few more seconds.
      await sleep(5000);
      const { deliveries, rejected } = await receiverLog();
      phase1 = deliveries;
      expectEqual('requests the receiver rejected', rejected, []);
      expectEqual(
        'dhs-all',
        summary('dhs-all'),
        [
          `indicator.corroborated ${SHARED} green x2`,
          `indicator.published ${FACEBOOK_ONLY} green`,
          `indicator.published ${GOOGLE_ONLY} amber`,
          `indicator.published ${SHARED} green`,
        ].sort(),
      );
      const corroboration = eventsOf(deliveries, 'dhs-all').find((e) => e.type === 'indicator.corroborated');
      expectEqual('corroboration sources', [...(corroboration?.sources ?? [])].sort(), [
        'facebook',
        'google',
      ]);
      // fbi-all: two instances of one group, deduplicating through Redis.
      expectEqual(
        'fbi-all',
        summary('fbi-all'),
        [
          `indicator.published ${FACEBOOK_ONLY} green`,
          `indicator.published ${GOOGLE_ONLY} amber`,
          `indicator.published ${RED} red`,
          `indicator.published ${SHARED} green`,
        ].sort(),
      );
      // microsoft-phishing: phishing from the other companies, once.
      expectEqual('microsoft-phishing', summary('microsoft-phishing'), [
        `indicator.published ${SHARED} green`,
      ]);
      return `${deliveries.length} verified deliveries, 0 rejected`;
    },
  });
  await check({
    name: 'TLP:RED reaches fbi only',
    run: async () => {
      if (!phase1.length) throw new Error('no deliveries to check');
      const at = [
        ...new Set(phase1.filter((d) => JSON.stringify(d).includes(RED)).map((d) => d.subscription)),
      ];
      expectEqual(`subscriptions that got ${RED}`, at, ['fbi-all']);
    },
  });
  await check({
    name: 'odni gets STIX 2.1 bundles',
    run: async () => {
      const bundles = phase1.filter((d) => d.subscription === 'odni-stix');
      if (!bundles.length) throw new Error('no delivery at odni-stix');
      for (const b of bundles) expectEqual('odni-stix body type', b.bundle?.type, 'bundle');
      const patterns = bundles
        .flatMap((b) => b.bundle!.objects.filter((o) => o.type === 'indicator').map((o) => o.pattern))
        .sort();
      expectEqual(
        'odni-stix patterns',
        patterns,
        [FACEBOOK_ONLY, GOOGLE_ONLY, SHARED].map((v) => `[domain-name:value = '${v}']`).sort(),
      );
      return `${bundles.length} bundles, ${patterns.length} indicators`;
    },
  });
  await check({
    name: "fbi's TAXII server: the reader signs in, wrong credentials get 401, TLP:RED in direct only",
    run: async () => {
      if (!up) throw new Error('the stack is not up');
      const reader = taxiiReader();
      const auth = basic(reader.name, reader.password);
      const discovery = await taxiiGet('/taxii2/', auth);
      expectEqual('discovery with the reader', discovery.status, 200);
      expectEqual('discovery media type', discovery.headers.get('content-type'), TAXII_MEDIA_TYPE);
      const roots = ((await discovery.json()) as { api_roots: string[] }).api_roots;
      expectEqual('API roots', roots.length, 1);
      expectEqual('with Bearer', (await taxiiGet('/taxii2/', `Bearer ${reader.password}`)).status, 200);
      const wrong = await taxiiGet('/taxii2/', basic(reader.name, `${reader.password}x`));
      expectEqual('a wrong password', wrong.status, 401);
      expectEqual('its WWW-Authenticate', /^Basic /.test(wrong.headers.get('www-authenticate') ?? ''), true);
      expectEqual('no credentials', (await taxiiGet('/taxii2/')).status, 401);
      // Another kind of secret is no reader's: an API key is not a TAXII password.
      expectEqual('an API key', (await taxiiGet('/taxii2/', `Bearer ${apiKeyOf('facebook')}`)).status, 401);

      const collections = (
        (await (await taxiiGet('/api/collections/', auth)).json()) as {
          collections: { id: string; alias: string }[];
        }
      ).collections;
      expectEqual(
        'collections',
        collections.map((c) => c.alias),
        ['clear', 'green', 'amber', 'direct'],
      );
      const valuesIn = async (id: string): Promise<string[]> => {
        const res = await taxiiGet(`/api/collections/${id}/objects/?match[type]=indicator&limit=1000`, auth);
        if (res.status !== 200) throw new Error(`objects of ${id}: ${res.status}`);
        const body = (await res.json()) as { objects?: { pattern: string }[] };
        return (body.objects ?? []).map((o) => /value = '([^']+)'/.exec(o.pattern)?.[1] ?? o.pattern);
      };
      const ours = [SHARED, FACEBOOK_ONLY, GOOGLE_ONLY, RED];
      let byAlias: Record<string, string[]> = {};
      await waitFor(
        'the published indicators in the TAXII collections',
        async () => {
          byAlias = {};
          for (const c of collections)
            byAlias[c.alias] = (await valuesIn(c.id)).filter((v) => ours.includes(v)).sort();
          return byAlias.direct!.length >= 1 && byAlias.green!.length >= 3 && byAlias.amber!.length >= 1
            ? true
            : undefined;
        },
        120_000,
      );
      // One STIX indicator per source: facebook's and google's reports of SHARED are two.
      expectEqual('TAXII collections', byAlias, {
        clear: [],
        green: [FACEBOOK_ONLY, SHARED, SHARED].sort(),
        amber: [GOOGLE_ONLY],
        direct: [RED],
      });
      return `discovery 200 (Basic and Bearer), 401 to a wrong password, none or an API key; ${ours.length} values in ${collections.length} collections`;
    },
  });
  await check({
    name: 'a subscriber container killed mid-stream: nothing lost, nothing delivered twice',
    run: async () => {
      if (!up) throw new Error('the stack is not up');
      const [id] = await containerOf('subscriber-dhs');
      if (!id) throw new Error('no subscriber-dhs container');
      const values = Array.from({ length: 300 }, (_, i) => `crash-${run}-${i}.info`);
      const batches = Array.from({ length: 30 }, (_, i) => values.slice(i * 10, i * 10 + 10));
      let killedAt = -1;
      for (const [i, batch] of batches.entries()) {
        await publish(
          'twitter',
          batch.map((value) => ({ type: 'domain', value, category: 'disinformation', tlp: 'green' })),
          `crash-${run}-${i}`,
          10,
        );
        if (killedAt < 0 && i >= 5) {
          // Mid-stream: once dhs-all has delivered some of this stream, not all.
          const got = publishedBy((await receiverLog()).deliveries, 'dhs-all');
          const n = values.filter((v) => got.has(v)).length;
          if (n > 0 || i >= 20) {
            // A crash, not an operator's stop: SIGKILL to the container's main process (the node
            // subscriber, its PID 1) by its host pid. `docker kill` would count as a manual stop,
            // which the restart policy does not undo.
            const pid = Number(
              (await sh('docker', ['inspect', '-f', '{{.State.Pid}}', id], 30_000)).stdout.trim(),
            );
            if (!(pid > 1)) throw new Error(`no host pid for container ${id}`);
            process.kill(pid, 'SIGKILL');
            killedAt = n;
          }
        }
      }
      if (killedAt < 0) throw new Error('the subscriber was never killed');
      // Its restart policy (unless-stopped) brings it back; wait for it to be healthy again.
      const restarts = await waitFor(
        'subscriber-dhs to restart and be healthy',
        async () => {
          const r = await sh(
            'docker',
            ['inspect', '-f', '{{.RestartCount}} {{.State.Health.Status}}', id],
            30_000,
          );
          const [count, health] = r.stdout.trim().split(' ');
          return Number(count) >= 1 && health === 'healthy' ? Number(count) : undefined;
        },
        180_000,
      );
      let got = new Map<string, Set<string>>();
      await waitFor(
        'dhs-all to deliver the whole stream',
        async () => {
          got = publishedBy((await receiverLog()).deliveries, 'dhs-all');
          return values.every((v) => got.has(v)) ? true : undefined;
        },
        180_000,
      );
      await sleep(5000);
      const { deliveries, rejected } = await receiverLog();
      got = publishedBy(deliveries, 'dhs-all');
      expectEqual('rejected', rejected, []);
      const lost = values.filter((v) => !got.has(v));
      const twice = values.filter((v) => (got.get(v)?.size ?? 0) > 1);
      expectEqual('lost', lost, []);
      expectEqual('delivered under more than one webhook-id', twice, []);
      const repeats =
        eventsOf(deliveries, 'dhs-all').filter((e) => values.includes(e.indicator.value)).length -
        values.length;
      return `killed after ${killedAt}/${values.length} delivered; restarted ${restarts}x; ${values.length} delivered once (${repeats} retries with the same webhook-id)`;
    },
  });
  await down();

  // ---------------- phase 2: the ha profile
  const ha = await check({
    name: "docker compose up --wait with the 'ha' profile: three brokers healthy",
    run: () => upWait(['ha']),
  });
  await check({
    name: 'a broker that is not the controller killed mid-publish: 0 lost, 0 duplicates',
    run: async () => {
      if (!ha) throw new Error('the ha stack is not up');
      const quorum = await composeOk(
        [
          'exec',
          '-T',
          'kafka',
          'bash',
          '-c',
          '/opt/kafka/bin/kafka-metadata-quorum.sh --bootstrap-server kafka:9092 --command-config /var/lib/kafka/data/threatrelay/admin.properties describe --status',
        ],
        120_000,
      );
      const leader = /LeaderId:\s*(\d+)/.exec(quorum)?.[1];
      expectEqual('the KRaft controller (leader) node', leader, '1');
      const [victim] = await containerOf('kafka-2');
      if (!victim) throw new Error('no kafka-2 container');
      const values = Array.from({ length: 1000 }, (_, i) => `ha-${run}-${i}.info`);
      const batches = Array.from({ length: 100 }, (_, i) => values.slice(i * 10, i * 10 + 10));
      let accepted = 0;
      for (const [i, batch] of batches.entries()) {
        if (i === 30) {
          const kill = await sh('docker', ['kill', '--signal', 'KILL', victim], 30_000);
          if (kill.code !== 0) throw new Error(`docker kill kafka-2: ${kill.stderr}`);
        }
        accepted += await publish(
          'facebook',
          batch.map((value) => ({ type: 'domain', value, category: 'disinformation', tlp: 'green' })),
          `ha-${run}-${i}`,
          20,
        );
      }
      expectEqual('accepted', accepted, values.length);
      const results: string[] = [];
      for (const sub of ['fbi-all', 'dhs-all']) {
        let got = new Map<string, Set<string>>();
        await waitFor(
          `${sub} to deliver all ${values.length}`,
          async () => {
            got = publishedBy((await receiverLog()).deliveries, sub);
            return values.every((v) => got.has(v)) ? true : undefined;
          },
          240_000,
          3000,
        );
      }
      await sleep(5000);
      const { deliveries, rejected } = await receiverLog();
      expectEqual('rejected', rejected, []);
      for (const sub of ['fbi-all', 'dhs-all']) {
        const got = publishedBy(deliveries, sub);
        const lost = values.filter((v) => !got.has(v)).length;
        const dups = values.filter((v) => (got.get(v)?.size ?? 0) > 1);
        if (lost || dups.length) {
          // What an operator needs to tell a redelivery (same eventId) from a second event.
          const sample = dups.slice(0, 3).map((v) => {
            const copies = eventsOf(deliveries, sub).filter(
              (e) => e.type === 'indicator.published' && e.indicator.value === v,
            );
            return `${v}: ${copies.map((e) => `eventId ${e.eventId} in webhook ${e.webhookId}`).join(', ')}`;
          });
          throw new Error(
            `${sub}: ${lost} lost, ${dups.length} delivered under more than one webhook-id; e.g. ${sample.join('; ')}`,
          );
        }
        results.push(`${sub} ${values.length}/${values.length} once`);
      }
      return `controller node 1; kafka-2 killed after 300 of ${values.length}; ${accepted} accepted; ${results.join(', ')}`;
    },
  });
  await down();
}

let finishing = false;
async function finish(code: number): Promise<never> {
  if (!finishing) {
    finishing = true;
    if (projectUp) await down();
    rmSync(work, { recursive: true, force: true });
    log(`total ${seconds(started)}`);
    console.log(`stack: ${passed} passed, ${failed} failed`);
  }
  process.exit(code);
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    log(`${sig}: stopping the stack`);
    failed++;
    void finish(1);
  });
}
main().then(
  () => finish(failed > 0 ? 1 : 0),
  (err: unknown) => {
    failed++;
    log(`FAIL ${String(err)}`);
    return finish(1);
  },
);
