import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Agent, fetch as undiciFetch } from 'undici';
import type { RunningProducer } from '../../services/producer/service';
import { startTaxiiServer, type RunningTaxiiServer } from '../../services/taxii/service';
import { createTestNetwork, randomSuffix, type TestNetwork } from '../../testkit/network';
import { oraclePython, stixValidationErrors } from '../../testkit/stix-validator';
import { waitFor } from '../../testkit/wait-for';

/**
 * The TAXII 2.1 server against a real broker, a real producer and OASIS's
 * stock Python client: discovery, collections per entitlement, paging while
 * indicators keep arriving, credentials, media types, revocations as
 * versions, restarts and a rebuild from Kafka.
 */

const TAXII = 'application/taxii+json;version=2.1';
const ROOT = join(__dirname, '../..');

type Obj = Record<string, unknown> & { id: string; type: string };

describe('TAXII 2.1 server', () => {
  let net: TestNetwork;
  let producer: RunningProducer;
  let fbi: RunningTaxiiServer;
  let dhs: RunningTaxiiServer;
  let python: string;
  const run = randomSuffix();

  const start = (org: string): Promise<RunningTaxiiServer> =>
    startTaxiiServer({ config: net.config, org, logger: net.logger, port: 0, dataDir: net.dataDir });

  const basic = (org: string, password = net.taxiiReaders[org]!.password): string =>
    `Basic ${Buffer.from(`${net.taxiiReaders[org]!.username}:${password}`).toString('base64')}`;

  const get = (
    server: RunningTaxiiServer,
    path: string,
    headers: Record<string, string> = {},
    org = server === fbi ? 'fbi' : 'dhs',
  ): Promise<Response> =>
    fetch(`${server.url}${path}`, { headers: { authorization: basic(org), accept: TAXII, ...headers } });

  const objectsOf = async (server: RunningTaxiiServer, alias: string, query = ''): Promise<Obj[]> => {
    const c = server.collections.find((x) => x.name === alias)!;
    const out: Obj[] = [];
    let next = '';
    for (let i = 0; i < 100; i++) {
      const res = await get(server, `/api/collections/${c.id}/objects/?limit=1000${query}${next}`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { more: boolean; next?: string; objects?: Obj[] };
      out.push(...(body.objects ?? []));
      if (!body.more) return out;
      next = `&next=${body.next}`;
    }
    throw new Error('more than 100 pages');
  };

  const publish = async (items: Record<string, unknown>[]): Promise<void> => {
    for (let i = 0; i < items.length; i += 1000) {
      // A 503 (Kafka slow to acknowledge on a busy machine) is retried with the same Idempotency-Key,
      // as docs/publishing.md tells clients to: the retry produces the same events.
      const idempotencyKey = randomUUID();
      let status = 0;
      for (let attempt = 0; attempt < 5 && status !== 202; attempt++) {
        const res = await fetch(`${producer.url}/v1/indicators`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${net.apiKeys.facebook}`,
            'content-type': 'application/json',
            'idempotency-key': idempotencyKey,
          },
          body: JSON.stringify(items.slice(i, i + 1000)),
        });
        status = res.status;
        if (status !== 503) break;
      }
      expect(status).toBe(202);
    }
  };

  const domains = (from: number, to: number, tag: string): Record<string, unknown>[] =>
    Array.from({ length: to - from }, (_, i) => ({
      type: 'domain',
      value: `d${from + i}-${tag}-${run}.example.com`,
      category: 'phishing',
      tlp: 'clear',
    }));

  const indicators = (server: RunningTaxiiServer, alias: string): number => {
    // Versions in the collection minus its one identity and one marking definition.
    return server.store.count(alias) - 2;
  };

  beforeAll(async () => {
    net = await createTestNetwork(
      [{ id: 'facebook' }, { id: 'fbi', kind: 'government' }, { id: 'dhs', kind: 'government' }],
      [],
      { taxiiReaders: ['fbi', 'dhs'], producer: { rateLimitPerMinute: 100_000 } },
    );
    producer = await net.startProducer('facebook');
    [fbi, dhs] = await Promise.all([start('fbi'), start('dhs')]);
    python = oraclePython();
  });

  afterAll(async () => {
    await Promise.all([fbi?.close(), dhs?.close()]);
    await producer?.close();
    await net?.close();
  });

  it('serves a stock taxii2-client every object exactly once while it pages and more are published', async () => {
    await publish(domains(0, 1200, 'page'));
    await waitFor('1,200 indicators in fbi clear', () => indicators(fbi, 'clear') >= 1200, 60_000);

    const dir = mkdtempSync(join(tmpdir(), 'taxii-pager-'));
    const out = join(dir, 'out.json');
    try {
      const { username, password } = net.taxiiReaders.fbi!;
      const child = spawn(
        python,
        [
          join(ROOT, 'scripts/oracles/taxii_pager.py'),
          fbi.discoveryUrl,
          username,
          password,
          'clear',
          '100',
          out,
          '--pause-after-first-page',
        ],
        { stdio: ['pipe', 'pipe', 'pipe'] },
      );
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      const lines = createInterface({ input: child.stdout });
      const firstPage = new Promise<void>((resolve, reject) => {
        lines.on('line', (l) => l === 'first-page' && resolve());
        void exited.then(() => reject(new Error(`the pager exited before its first page: ${stderr}`)));
      });
      await firstPage;
      // The client is between pages: 300 more arrive and are added before it asks for the next one.
      await publish(domains(1200, 1500, 'page'));
      await waitFor('1,500 indicators in fbi clear', () => indicators(fbi, 'clear') >= 1500, 60_000);
      child.stdin.write('go\n');
      expect([await exited, stderr]).toEqual([0, '']);

      const result = JSON.parse(readFileSync(out, 'utf8')) as {
        collections: { id: string; alias: string }[];
        pages: number[];
        objects: Obj[];
      };
      expect(result.collections.map((c) => c.alias)).toEqual(['clear', 'green', 'amber', 'direct']);
      expect(result.collections.map((c) => c.id)).toEqual(fbi.collections.map((c) => c.id));
      expect(result.pages[0]).toBe(100);
      expect(result.pages.length).toBeGreaterThanOrEqual(15);
      const ids = result.objects.map((o) => `${o.id} ${String(o.modified ?? o.created)}`);
      expect(new Set(ids).size).toBe(ids.length); // no duplicates
      const names = result.objects.filter((o) => o.type === 'indicator').map((o) => String(o.name));
      const expected = domains(0, 1500, 'page').map((d) => `domain ${String(d.value)}`);
      expect(names.filter((n) => n.includes(`-page-${run}`)).sort()).toEqual(expected.sort()); // none missing
      expect(
        result.objects
          .filter((o) => o.type !== 'indicator')
          .map((o) => o.type)
          .sort(),
      ).toEqual(['identity', 'marking-definition']);
      const bundle = { type: 'bundle', id: `bundle--${randomUUID()}`, objects: result.objects };
      expect(stixValidationErrors(python, [bundle])).toEqual([[]]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('answers 401 with a TAXII error to missing or wrong credentials', async () => {
    const attempts: Record<string, string | undefined> = {
      none: undefined,
      'wrong password': basic('fbi', 'trt_fbi_not-the-password'),
      "another org's reader": basic('dhs'),
      'unknown bearer': 'Bearer trt_fbi_nope',
    };
    for (const [what, authorization] of Object.entries(attempts)) {
      const res = await fetch(`${fbi.url}/api/collections/`, {
        headers: { accept: TAXII, ...(authorization ? { authorization } : {}) },
      });
      expect([what, res.status, res.headers.get('content-type')]).toEqual([what, 401, TAXII]);
      expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
      expect(await res.json()).toMatchObject({ title: 'Unauthorized', http_status: '401' });
    }
    const bearer = await fetch(`${fbi.url}/api/collections/`, {
      headers: { accept: TAXII, authorization: `Bearer ${net.taxiiReaders.fbi!.password}` },
    });
    expect(bearer.status).toBe(200);
  });

  it("answers 404 for another org's collection", async () => {
    const fbiDirect = fbi.collections.find((c) => c.name === 'direct')!.id;
    expect(dhs.collections.map((c) => c.id)).not.toContain(fbiDirect);
    for (const path of ['', 'objects/', 'manifest/']) {
      const res = await get(dhs, `/api/collections/${fbiDirect}/${path}`);
      expect([path, res.status]).toEqual([path, 404]);
      expect(await res.json()).toMatchObject({ http_status: '404' });
    }
  });

  it("puts fbi's TLP:RED in fbi's direct collection only", async () => {
    const handle = `red_${run}`;
    await publish([
      {
        type: 'social_account',
        value: `@${handle}`,
        platform: 'twitter',
        category: 'coordinated_inauthentic_behavior',
        tlp: 'red',
        recipients: ['fbi'],
      },
    ]);
    const direct = await waitFor('the red indicator in fbi direct', async () => {
      const objs = await objectsOf(fbi, 'direct');
      return objs.some((o) => String(o.pattern).includes(handle)) ? objs : undefined;
    });
    const red = direct.find((o) => String(o.pattern).includes(handle))!;
    expect(red.object_marking_refs).toEqual(['marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1']);
    // A later indicator reached dhs: dhs is caught up past the red one, and never had it.
    await publish(domains(0, 1, 'after-red'));
    await waitFor('dhs to have the later indicator', async () =>
      (await objectsOf(dhs, 'clear', `&match[type]=indicator`)).some((o) =>
        String(o.name).includes(`-after-red-${run}`),
      ),
    );
    for (const server of [fbi, dhs]) {
      for (const c of server.collections) {
        if (server === fbi && c.name === 'direct') continue;
        const objs = await objectsOf(server, c.name);
        expect([c.name, objs.filter((o) => String(o.pattern).includes(handle))]).toEqual([c.name, []]);
      }
    }
  });

  it('shows a revocation as a new, revoked version of the same indicator', async () => {
    const value = `revoked-${run}.example.com`;
    await publish([{ type: 'domain', value, category: 'disinformation', tlp: 'green' }]);
    const original = await waitFor('the indicator in dhs green', async () =>
      (await objectsOf(dhs, 'green')).find((o) => o.name === `domain ${value}`),
    );
    const revoke = await fetch(`${producer.url}/v1/indicators/revoke`, {
      method: 'POST',
      headers: { authorization: `Bearer ${net.apiKeys.facebook}`, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'domain', value, tlp: 'green', reason: 'false positive' }),
    });
    expect(revoke.status).toBe(202);
    const green = dhs.collections.find((c) => c.name === 'green')!.id;
    const versions = await waitFor('two versions', async () => {
      const res = await get(dhs, `/api/collections/${green}/objects/${original.id}/versions/`);
      const body = (await res.json()) as { versions?: string[] };
      return (body.versions?.length ?? 0) >= 2 ? body.versions : undefined;
    });
    expect(versions).toEqual([original.modified, expect.any(String)]);
    const latest = (await (await get(dhs, `/api/collections/${green}/objects/${original.id}/`)).json()) as {
      objects: Obj[];
    };
    expect(latest.objects).toHaveLength(1);
    expect(latest.objects[0]).toMatchObject({
      id: original.id,
      created: original.created,
      pattern: original.pattern,
      revoked: true,
      modified: versions[1],
    });
    const first = (await (
      await get(dhs, `/api/collections/${green}/objects/${original.id}/?match[version]=first`)
    ).json()) as { objects: Obj[] };
    expect(first.objects).toEqual([original]);
    // The collection's default (latest versions) lists the indicator once, revoked.
    const listed = (await objectsOf(dhs, 'green')).filter((o) => o.id === original.id);
    expect(listed.map((o) => o.revoked)).toEqual([true]);
    const bundle = { type: 'bundle', id: `bundle--${randomUUID()}`, objects: [original, latest.objects[0]] };
    expect(stixValidationErrors(python, [bundle])).toEqual([[]]);
  });

  it("labels an indicator with the warninglists the reading org's own snapshot finds", async () => {
    // A shared-address-space IP (RFC 6598): the TAXII server finds it whatever the source claimed.
    // Sent with an Idempotency-Key and retried on a reset connection (the producer may close an idle
    // keep-alive connection as it is reused), which publishes the same event once.
    const body = JSON.stringify({ type: 'ipv4', value: '100.64.7.7', category: 'c2', tlp: 'amber' });
    const headers = {
      authorization: `Bearer ${net.apiKeys.facebook}`,
      'content-type': 'application/json',
      'idempotency-key': randomUUID(),
    };
    const status = await waitFor('the producer to accept 100.64.7.7', () =>
      fetch(`${producer.url}/v1/indicators`, { method: 'POST', headers, body }).then(
        (res) => res.status,
        () => undefined,
      ),
    );
    expect(status).toBe(202);
    const object = await waitFor('the indicator in dhs amber', async () =>
      (await objectsOf(dhs, 'amber')).find((o) => o.name === 'ipv4 100.64.7.7'),
    );
    expect(object.labels).toContain('warninglist:rfc6598:5');
    const bundle = { type: 'bundle', id: `bundle--${randomUUID()}`, objects: [object] };
    expect(stixValidationErrors(python, [bundle])).toEqual([[]]);
  });

  it('answers wrong media types, methods and parameters with the TAXII statuses', async () => {
    const clear = fbi.collections.find((c) => c.name === 'clear')!.id;
    const objects = `/api/collections/${clear}/objects/`;
    // A connection per request: the validator's synchronous run in the test before can leave pooled
    // keep-alive sockets that the server (in this same process) closes as they are reused.
    const noReuse = new Agent({ pipelining: 0 });
    const fetch = (url: string, init: RequestInit = {}) =>
      undiciFetch(url, { ...(init as object), dispatcher: noReuse }) as unknown as Promise<Response>;
    const get = (_server: RunningTaxiiServer, path: string, headers: Record<string, string> = {}) =>
      fetch(`${fbi.url}${path}`, { headers: { authorization: basic('fbi'), accept: TAXII, ...headers } });
    const cases: [string, Promise<Response>, number][] = [
      ['Accept: application/json', get(fbi, objects, { accept: 'application/json' }), 406],
      ['Accept: TAXII 2.0', get(fbi, objects, { accept: 'application/taxii+json;version=2.0' }), 406],
      ['a bad next', get(fbi, `${objects}?next=bm9wZQ`), 400],
      ['limit=0', get(fbi, `${objects}?limit=0`), 400],
      ['a bad added_after', get(fbi, `${objects}?added_after=yesterday`), 400],
      [
        'POST as JSON',
        fetch(`${fbi.url}${objects}`, {
          method: 'POST',
          headers: { authorization: basic('fbi'), accept: TAXII, 'content-type': 'application/json' },
          body: '{}',
        }),
        415,
      ],
      [
        'POST as TAXII',
        fetch(`${fbi.url}${objects}`, {
          method: 'POST',
          headers: { authorization: basic('fbi'), accept: TAXII, 'content-type': TAXII },
          body: '{"objects":[]}',
        }),
        403,
      ],
      [
        'PUT',
        fetch(`${fbi.url}${objects}`, {
          method: 'PUT',
          headers: { authorization: basic('fbi'), accept: TAXII },
        }),
        405,
      ],
      ['an unknown status', get(fbi, `/api/status/${randomUUID()}/`), 404],
    ];
    for (const [what, pending, status] of cases) {
      const res = await pending.catch((err: unknown) => {
        throw new Error(`${what}: ${String(err)} ${String((err as Error).cause)}`);
      });
      const body = (await res.json()) as { http_status: string; title: string };
      expect([what, res.status, res.headers.get('content-type'), body.http_status]).toEqual([
        what,
        status,
        TAXII,
        String(status),
      ]);
    }
    await publish(domains(0, 1, 'media'));
    await waitFor('an indicator in fbi clear', () => indicators(fbi, 'clear') >= 1);
    const ok = await get(fbi, `${objects}?limit=1`, { accept: 'application/taxii+json' });
    expect([ok.status, ok.headers.get('content-type')]).toEqual([200, TAXII]);
    expect(ok.headers.get('x-taxii-date-added-first')).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    await ok.body?.cancel();
    await noReuse.close();
  });

  it('pages with added_after from the last date_added a client saw', async () => {
    const clear = fbi.collections.find((c) => c.name === 'clear')!.id;
    const manifest = async (query: string) =>
      (await (await get(fbi, `/api/collections/${clear}/manifest/?limit=1000${query}`)).json()) as {
        objects: { id: string; date_added: string; version: string; media_type: string }[];
      };
    const all = (await manifest('')).objects;
    const cut = all[499]!.date_added;
    const rest = (await manifest(`&added_after=${cut}`)).objects;
    expect(rest[0]).toEqual(all[500]);
    expect(all[0]!.media_type).toBe('application/stix+json;version=2.1');
  });

  it('loses nothing across a restart, and rebuilds an empty store from Kafka', async () => {
    const before = await objectsOf(fbi, 'clear', '&match[version]=all');
    const manifestOf = async (server: RunningTaxiiServer) => {
      const c = server.collections.find((x) => x.name === 'clear')!.id;
      const res = await get(server, `/api/collections/${c}/manifest/?limit=1000&match[version]=all`);
      return ((await res.json()) as { objects: { id: string; date_added: string }[] }).objects;
    };
    const firstPage = await manifestOf(fbi);
    await fbi.close();
    // Published while the server is down: read when it is back.
    await publish(domains(0, 20, 'while-down'));
    fbi = await start('fbi');
    const expected = before.length + 20;
    await waitFor('the 20 published while down', async () => {
      const n = indicators(fbi, 'clear') + 2;
      return n >= expected ? n : undefined;
    });
    const after = await objectsOf(fbi, 'clear', '&match[version]=all');
    expect(after).toHaveLength(expected);
    expect(after.slice(0, before.length)).toEqual(before);
    expect(await manifestOf(fbi)).toEqual(firstPage); // same date_added: nothing re-added

    await fbi.close();
    rmSync(join(net.dataDir, 'taxii', 'fbi'), { recursive: true, force: true });
    fbi = await start('fbi');
    await waitFor('the rebuilt store', () => indicators(fbi, 'clear') + 2 >= expected, 60_000);
    const rebuilt = await objectsOf(fbi, 'clear', '&match[version]=all');
    const key = (o: Obj): string => `${o.id} ${String(o.modified ?? o.created)}`;
    expect(rebuilt.map(key).sort()).toEqual(after.map(key).sort());
  });
});
