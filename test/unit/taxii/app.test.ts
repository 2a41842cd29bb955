import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Indicator, ThreatEvent } from '../../../services/contract/model';
import { createLogger } from '../../../services/platform/logger';
import { TLP2_MARKING_IDS } from '../../../services/stix/markings';
import { taxiiApp, type TaxiiAppOptions } from '../../../services/taxii/app';
import { collectionsOf } from '../../../services/taxii/collections';
import { additionsOf, eventKeyOf, nextVersion } from '../../../services/taxii/objects';
import { TaxiiStore } from '../../../services/taxii/store';
import { publishedFull, publishedMinimal } from '../../fixtures/threat-events';

/**
 * The TAXII server's response headers, on a real store and a real HTTP
 * server: what it tells caches and browsers, and that discovery never
 * repeats the Host header a client sent.
 */
const SECRET = 'taxii-secret-of-fbi-reader';
const auth = { authorization: `Bearer ${SECRET}`, accept: 'application/taxii+json;version=2.1' };
const collections = collectionsOf(
  { id: 'fbi', name: 'FBI', kind: 'government', maxTlp: 'amber', keys: [], pdq: { minQuality: 50 } },
  'tr',
);
const idOf = (name: string): string => collections.find((c) => c.name === name)!.id;

function withIndicator(base: ThreatEvent, change: Partial<Indicator>): ThreatEvent {
  const e = structuredClone(base);
  const p = e.payload as { indicator: Indicator };
  p.indicator = { ...p.indicator, ...change };
  return e;
}

describe('TAXII response headers', () => {
  let dir: string;
  let store: TaxiiStore;
  const servers: Server[] = [];

  async function serve(extra: Partial<TaxiiAppOptions> = {}): Promise<string> {
    const app = taxiiApp({
      org: 'fbi',
      store,
      collections,
      readers: [
        { name: 'fbi-reader', org: 'fbi', sha256: createHash('sha256').update(SECRET).digest('hex') },
      ],
      authFailures: { authFailuresPerMinute: 1000 },
      defaultPageSize: 100,
      maxPageSize: 1000,
      logger: createLogger('taxii-test', 'silent'),
      ...extra,
    });
    const server = app.listen(0, '127.0.0.1');
    servers.push(server);
    await new Promise((r) => server.once('listening', r));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'threatrelay-taxii-app-'));
    store = TaxiiStore.open(join(dir, 'store'));
    const red = withIndicator(publishedFull, { tlp: 'red', recipients: ['fbi'] });
    const events = [red, publishedMinimal].map((e) => ({
      eventKey: eventKeyOf(e),
      additions: additionsOf(e),
    }));
    await store.add(events, undefined, nextVersion);
  });
  afterAll(async () => {
    for (const s of servers) await new Promise((r) => s.close(r));
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers about the collection holding TLP:RED with Cache-Control: no-store', async () => {
    const url = await serve();
    const res = await fetch(`${url}/api/collections/${idOf('direct')}/objects/`, { headers: auth });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain(TLP2_MARKING_IDS.red);
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('lets a community collection be cached', async () => {
    const url = await serve();
    const res = await fetch(`${url}/api/collections/${idOf('clear')}/objects/`, { headers: auth });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBeNull();
  });

  it('sends X-Content-Type-Options: nosniff with every answer, errors included', async () => {
    const url = await serve();
    const answers = [
      await fetch(`${url}/taxii2/`, { headers: auth }),
      await fetch(`${url}/api/collections/${idOf('clear')}/objects/`, { headers: auth }),
      await fetch(`${url}/api/collections/`, { headers: { accept: auth.accept } }),
      await fetch(`${url}/api/collections/no-such-collection/`, { headers: auth }),
    ];
    expect(answers.map((r) => r.status)).toEqual([200, 200, 401, 404]);
    for (const r of answers) expect(r.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('names the API root by its path in discovery, whatever Host the client sends', async () => {
    const url = await serve();
    const res = await fetch(`${url}/taxii2/`, { headers: { ...auth, host: 'evil.example' } });
    const body = (await res.json()) as { default: string; api_roots: string[] };
    expect(body).toMatchObject({ default: '/api/', api_roots: ['/api/'] });
  });

  it('names the API root under the configured public URL in discovery', async () => {
    const url = await serve({ publicUrl: 'https://taxii.example.org' });
    const res = await fetch(`${url}/taxii2/`, { headers: { ...auth, host: 'evil.example' } });
    const body = (await res.json()) as { default: string; api_roots: string[] };
    expect(body).toMatchObject({
      default: 'https://taxii.example.org/api/',
      api_roots: ['https://taxii.example.org/api/'],
    });
  });
});
