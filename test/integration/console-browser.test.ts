import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { hashOperatorPassword } from '../../services/console/auth';
import { startConsole, type RunningConsole } from '../../services/console/service';
import type { Config } from '../../services/platform/config/config';
import type { RunningProducer } from '../../services/producer/service';
import { startSubscriber, type RunningSubscriber } from '../../services/subscriber/service';
import { launchChromium } from '../../testkit/browser';
import { createTestNetwork, type TestNetwork } from '../../testkit/network';
import { startReceiver, type Receiver } from '../../testkit/receiver';
import { waitFor } from '../../testkit/wait-for';

/**
 * The operator console in a real browser (Debian's Chromium through
 * playwright-core) against a real broker, real subscribers and real webhook
 * endpoints: the demo network's subscriptions consuming, one turning
 * disabled after its endpoint answers 410, a dead letter appearing with its
 * reason and replayed after a confirmation, and no TLP:RED value anywhere
 * the console sends.
 */

const SUBSCRIPTIONS = ['dhs-all', 'fbi-all', 'odni-stix', 'microsoft-phishing'] as const;
const SCREENSHOT = join(__dirname, '../../.cache/screenshots/console.png');
const OPERATOR = { username: 'operator', password: `pw-${randomBytes(12).toString('hex')}` };
/** Distinctive, so finding it anywhere means it leaked. */
const RED_VALUE = `redsecret${randomBytes(6).toString('hex')}.com`;

const basic = (user: string, password: string): string =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** Everything the console streams to one client, kept as text for the whole test. */
async function recordStream(url: string, signal: AbortSignal): Promise<{ text: () => string }> {
  let text = '';
  const res = await fetch(`${url}/events`, {
    headers: { authorization: basic(OPERATOR.username, OPERATOR.password) },
    signal,
  });
  expect(res.status).toBe(200);
  const decoder = new TextDecoder();
  void (async () => {
    try {
      for await (const chunk of res.body!) text += decoder.decode(chunk as Uint8Array, { stream: true });
    } catch {
      // Aborted at the end of the test.
    }
  })();
  return { text: () => text };
}

describe('operator console in a browser', () => {
  const receivers: Record<string, Receiver> = {};
  const subscribers: RunningSubscriber[] = [];
  const producers: Record<string, RunningProducer> = {};
  let net: TestNetwork;
  let config: Config;
  let operatorConsole: RunningConsole;
  let browser: Browser;
  const streams = new AbortController();

  beforeAll(async () => {
    for (const id of SUBSCRIPTIONS) receivers[id] = await startReceiver();
    net = await createTestNetwork(
      [
        { id: 'facebook' },
        { id: 'google' },
        { id: 'microsoft' },
        { id: 'twitter' },
        { id: 'dhs', kind: 'government' },
        { id: 'fbi', kind: 'government' },
        { id: 'odni', kind: 'government' },
      ],
      [
        { id: 'dhs-all', org: 'dhs', url: `${receivers['dhs-all']!.url}/ok`, corroborations: true },
        { id: 'fbi-all', org: 'fbi', url: `${receivers['fbi-all']!.url}/ok` },
        { id: 'odni-stix', org: 'odni', url: `${receivers['odni-stix']!.url}/ok`, format: 'stix21' },
        {
          id: 'microsoft-phishing',
          org: 'microsoft',
          url: `${receivers['microsoft-phishing']!.url}/ok`,
          filter: { categories: ['phishing'], sourceOrgs: ['facebook', 'google', 'twitter'] },
        },
      ],
    );
    config = {
      ...net.config,
      console: {
        operators: [{ username: OPERATOR.username, passwordHash: hashOperatorPassword(OPERATOR.password) }],
        authFailuresPerMinute: net.config.console.authFailuresPerMinute,
        sampleIntervalMs: 500,
        windowMinutes: 10,
      },
    };
    for (const org of ['facebook', 'twitter']) producers[org] = await net.startProducer(org);
    for (const org of ['dhs', 'fbi', 'odni', 'microsoft']) {
      subscribers.push(await startSubscriber({ config, org, logger: net.logger, dataDir: net.dataDir }));
    }
    operatorConsole = await startConsole({ config, logger: net.logger, port: 0 });
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    streams.abort();
    await browser?.close();
    await operatorConsole?.close();
    await Promise.all(subscribers.map((s) => s.close()));
    await Promise.all(Object.values(producers).map((p) => p.close()));
    await net?.close();
    await Promise.all(Object.values(receivers).map((r) => r.close()));
  }, 120_000);

  async function publish(org: string, indicators: object[]): Promise<void> {
    const res = await fetch(`${producers[org]!.url}/v1/indicators`, {
      method: 'POST',
      headers: { authorization: `Bearer ${net.apiKeys[org]}`, 'content-type': 'application/json' },
      body: JSON.stringify(indicators),
    });
    expect(res.status).toBe(202);
  }

  const domain = (value: string, extra: object = {}): object => ({
    type: 'domain',
    value,
    category: 'phishing',
    tlp: 'green',
    ...extra,
  });

  async function signedIn(): Promise<Page> {
    const context = await browser.newContext({ httpCredentials: OPERATOR });
    const page = await context.newPage();
    const res = await page.goto(`${operatorConsole.url}/`);
    expect(res!.status()).toBe(200);
    return page;
  }

  const stateCell = (sub: string, state: string): string =>
    `tr[data-subscription="${sub}"] td[data-state="${state}"]`;

  it('answers 401 with a Basic challenge to a browser with wrong credentials, and to none', async () => {
    const context = await browser.newContext({
      httpCredentials: { username: OPERATOR.username, password: 'not-the-password' },
    });
    try {
      const page = await context.newPage();
      const res = await page.goto(`${operatorConsole.url}/`);
      expect(res!.status()).toBe(401);
      expect(await page.content()).not.toContain('Subscriptions');
    } finally {
      await context.close();
    }
    for (const authorization of [
      undefined,
      basic('nobody', OPERATOR.password),
      basic(OPERATOR.username, ''),
    ]) {
      for (const path of ['/', '/events', '/console.js']) {
        const res = await fetch(`${operatorConsole.url}${path}`, {
          headers: authorization ? { authorization } : {},
        });
        expect([path, res.status]).toEqual([path, 401]);
        expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
      }
    }
    const replay = await fetch(`${operatorConsole.url}/api/subscriptions/dhs-all/replay`, {
      method: 'POST',
      headers: { 'x-threatrelay-console': '1' },
    });
    expect(replay.status).toBe(401);
  });

  it('shows consumption, a 410 disabling a subscription, a dead letter and its replay; never a TLP:RED value', async () => {
    const recorded = await recordStream(operatorConsole.url, streams.signal);
    const page = await signedIn();
    const pages: string[] = [];

    await publish('facebook', [domain(`shared-${net.prefix}.com`)]);
    await publish('twitter', [
      domain(`tw-${net.prefix}.com`),
      { ...domain(RED_VALUE), tlp: 'red', recipients: ['fbi'] },
    ]);
    for (const sub of SUBSCRIPTIONS) {
      await page.waitForSelector(stateCell(sub, 'consuming'), { timeout: 60_000 });
    }
    // The TLP:RED event is listed (type, source, TLP), so its absence below is not an empty page's.
    await page.waitForSelector('#events tr[data-verified="true"] td.tlp-red', { timeout: 30_000 });
    await page.locator('#producers tbody th', { hasText: 'twitter' }).waitFor({ timeout: 30_000 });
    await waitFor('fbi-all to get the TLP:RED indicator', () =>
      receivers['fbi-all']!.requests.some((r) => r.body.includes(RED_VALUE)),
    );
    // Progress, read off the page: fbi-all delivered everything, so it is 0 behind on every partition
    // (the transaction markers after its records are not records), with a last delivery and commit.
    const fbi = 'tr[data-subscription="fbi-all"]';
    await page.waitForSelector(`${fbi} td[data-lag="0"]`, { timeout: 30_000 });
    await page.waitForSelector(`${fbi} td[data-last-delivery^="20"]`, { timeout: 30_000 });
    expect(await page.textContent(`${fbi} td[data-lag]`)).toBe('0');
    expect(await page.textContent(`${fbi} td[data-oldest-waiting]`)).toBe('—');
    expect(await page.textContent(`${fbi} td[data-stalled-since]`)).toBe('—');
    expect(await page.textContent(`${fbi} td[data-last-delivery]`)).toMatch(/^\d\d:\d\d:\d\d$/);
    // Per partition on demand; the details stay open across the page's live updates.
    await page.click('details[data-partitions="fbi-all"] summary');
    const partitionRows = page.locator('details[data-partitions="fbi-all"][open] tr[data-partition]');
    expect(await partitionRows.count()).toBe(4 * net.config.kafka.partitions);
    for (const behind of await partitionRows.locator('td[data-behind]').allTextContents())
      expect(behind).toBe('0');
    await page.locator('#live', { hasText: 'Live updates: on' }).waitFor({ timeout: 10_000 });
    await publish('facebook', [domain(`later-${net.prefix}.com`)]);
    await waitFor('fbi-all to get the later indicator', () =>
      receivers['fbi-all']!.requests.some((r) => r.body.includes(`later-${net.prefix}.com`)),
    );
    await page.waitForSelector(`${fbi} td[data-lag="0"]`, { timeout: 30_000 });
    expect(await page.locator('details[data-partitions="fbi-all"][open]').count()).toBe(1);
    pages.push(await page.content());
    // Every event read so far verified against its org's key (batch signatures included).
    expect(await page.locator('#events tr[data-verified="false"]').count()).toBe(0);
    expect(await page.locator('#events tr[data-verified="true"]').count()).toBeGreaterThanOrEqual(3);

    // odni-stix's endpoint goes away for good.
    receivers['odni-stix']!.answerAll(410);
    await publish('facebook', [domain(`gone-${net.prefix}.com`)]);
    await page.waitForSelector(stateCell('odni-stix', 'disabled'), { timeout: 30_000 });
    expect(await page.textContent('tr[data-subscription="odni-stix"]')).toContain('410');
    // Its endpoint refused the record: it is not processed, and the page counts it behind.
    await page.waitForSelector(
      'tr[data-subscription="odni-stix"] td[data-lag]:not([data-lag="0"]):not([data-lag=""])',
      {
        timeout: 30_000,
      },
    );
    expect(
      Number(await page.textContent('tr[data-subscription="odni-stix"] td[data-lag]')),
    ).toBeGreaterThanOrEqual(1);

    // dhs-all's endpoint refuses a delivery: a dead letter, with its reason.
    receivers['dhs-all']!.answerAll(400);
    await publish('facebook', [domain(`refused-${net.prefix}.com`)]);
    await page.waitForSelector('section[data-dlq="dhs-all"]', { timeout: 60_000 });
    const dlq = (await page.textContent('section[data-dlq="dhs-all"]'))!;
    expect(dlq).toContain('TR_DELIVERY_REJECTED');
    expect(dlq).toMatch(/400/);

    // The endpoint is fixed; the operator replays, after confirming.
    receivers['dhs-all']!.answerAll(undefined);
    const before = receivers['dhs-all']!.requests.length;
    const questions: string[] = [];
    page.once('dialog', (dialog) => {
      questions.push(dialog.message());
      void dialog.accept();
    });
    await page.click('button[data-replay="dhs-all"]');
    await page
      .locator('#replay-result', { hasText: 'dhs-all: replayed 1: 1 delivered' })
      .waitFor({ timeout: 60_000 });
    expect(questions).toEqual([expect.stringMatching(/Replay the 1 delivery failure\(s\) of dhs-all\?/)]);
    const replayed = receivers['dhs-all']!.requests.slice(before);
    expect(replayed.map((r) => r.status)).toEqual([200]);
    expect(replayed[0]!.body).toContain(`refused-${net.prefix}.com`);

    mkdirSync(join(SCREENSHOT, '..'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    pages.push(await page.content());
    const fresh = await fetch(`${operatorConsole.url}/`, {
      headers: { authorization: basic(OPERATOR.username, OPERATOR.password) },
    });
    pages.push(await fresh.text());
    const streamed = recorded.text();

    expect(streamed).toContain('TLP:RED');
    expect(streamed).toContain('data-state=\\"disabled\\"');
    for (const text of [...pages, streamed]) expect(text.toLowerCase()).not.toContain(RED_VALUE);
    await page.context().close();
  }, 240_000);
});
