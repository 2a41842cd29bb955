import { esc, renderPage, renderSections, sparkline } from '../../../services/console/render';
import {
  addRecentEvent,
  emptyDeadLetters,
  RateSeries,
  type RecentEvent,
  subscriptionState,
  summarizeDeadLetters,
  type ConsoleModel,
} from '../../../services/console/state';

describe('RateSeries', () => {
  it('counts per bucket, oldest first, and forgets what slid out of the window', () => {
    const s = new RateSeries(1000, 4, 10_000);
    s.add(2, 10_100);
    s.add(1, 11_500);
    s.add(5, 13_999);
    expect(s.points(13_999)).toEqual([2, 1, 0, 5]);
    expect(s.points(15_000)).toEqual([0, 5, 0, 0]);
    s.add(9, 11_000); // older than the window now: ignored
    expect(s.points(15_000)).toEqual([0, 5, 0, 0]);
    expect(s.points(60_000)).toEqual([0, 0, 0, 0]);
  });
});

describe('addRecentEvent', () => {
  const event = (sourceOrg: string, extra: Partial<RecentEvent> = {}): RecentEvent => ({
    eventId: '0195f3a4-1c2d-7e8f-9a0b-1c2d3e4f5a6b',
    kind: 'published',
    type: 'domain',
    category: 'phishing',
    sourceOrg,
    tlp: 'red',
    recipients: [],
    producedAt: '2026-01-01T00:00:00Z',
    verified: true,
    ...extra,
  });

  it("lists two orgs' events with the same eventId both: an eventId is scoped by its source org", () => {
    const model = { events: [] as RecentEvent[] };
    const seen = new Set<string>();
    expect(addRecentEvent(model, seen, event('google'))).toBe(true);
    expect(addRecentEvent(model, seen, event('twitter'))).toBe(true);
    expect(model.events.map((e) => e.sourceOrg)).toEqual(['google', 'twitter']);
  });

  it("counts one org's copies on several direct topics once, merging their recipients", () => {
    const model = { events: [] as RecentEvent[] };
    const seen = new Set<string>();
    expect(addRecentEvent(model, seen, event('google', { recipients: ['fbi'] }))).toBe(true);
    expect(addRecentEvent(model, seen, event('google', { recipients: ['dhs'] }))).toBe(false);
    expect(model.events).toHaveLength(1);
    expect(model.events[0]!.recipients).toEqual(['fbi', 'dhs']);
    // Gone from the list but seen lately: still a copy.
    model.events.length = 0;
    expect(addRecentEvent(model, seen, event('google', { recipients: ['odni'] }))).toBe(false);
    expect(model.events).toHaveLength(0);
  });

  it('keeps a record that does not verify apart from the verified event it claims to be', () => {
    const model = { events: [] as RecentEvent[] };
    const seen = new Set<string>();
    expect(addRecentEvent(model, seen, event('google', { verified: false, kind: 'unreadable' }))).toBe(true);
    expect(addRecentEvent(model, seen, event('google'))).toBe(true);
    expect(model.events.map((e) => e.verified)).toEqual([false, true]);
  });
});

describe('subscriptionState', () => {
  it('is disabled by its switch whatever the group, else consuming with members, else stopped', () => {
    const off = { disabled: true, reason: 'the webhook endpoint answered 410 Gone', at: 'T' };
    expect(subscriptionState(off, { state: 'Stable', members: 1 }).state).toBe('disabled');
    expect(subscriptionState(off, undefined).detail).toContain('410');
    const on = { ...off, disabled: false };
    expect(subscriptionState(on, { state: 'Stable', members: 2 }).state).toBe('consuming');
    expect(subscriptionState(undefined, { state: 'Empty', members: 0 }).state).toBe('stopped');
    expect(subscriptionState(undefined, undefined).state).toBe('unknown');
  });
});

describe('summarizeDeadLetters', () => {
  it('groups by code with the newest reason of each, newest code first', () => {
    const src = { topic: 't', partition: 0, offset: '1' };
    const s = summarizeDeadLetters([
      { at: '2026-01-01T00:00:01Z', code: 'TR_STALE', reason: 'old', source: src },
      { at: '2026-01-01T00:00:03Z', code: 'TR_DELIVERY_REJECTED', reason: 'answered 400', source: src },
      { at: '2026-01-01T00:00:02Z', code: 'TR_STALE', reason: 'older still', source: src },
    ]);
    expect(s.count).toBe(3);
    expect(s.byCode).toEqual([
      {
        code: 'TR_DELIVERY_REJECTED',
        count: 1,
        latestReason: 'answered 400',
        latestAt: '2026-01-01T00:00:03Z',
      },
      { code: 'TR_STALE', count: 2, latestReason: 'older still', latestAt: '2026-01-01T00:00:02Z' },
    ]);
    expect(s.latest.map((l) => l.at)).toEqual([
      '2026-01-01T00:00:03Z',
      '2026-01-01T00:00:02Z',
      '2026-01-01T00:00:01Z',
    ]);
  });
});

describe('rendering', () => {
  const hostile = '<img src=x onerror=alert(1)>"\'&';
  const model: ConsoleModel = {
    startedAt: 0,
    orgs: [{ id: 'fbi', name: hostile, kind: 'government', roles: ['subscribes'], maxTlp: 'amber' }],
    subscriptions: new Map([
      [
        'fbi-all',
        {
          id: 'fbi-all',
          org: 'fbi',
          format: 'native',
          state: 'consuming',
          stateDetail: '1 member(s)',
          lag: 0,
          partitions: [],
          lastCommitAt: undefined,
          lastDeliveryAt: undefined,
          lastError: { at: '2026-01-01T00:00:00Z', text: hostile },
          deadLetters: {
            ...emptyDeadLetters(),
            count: 1,
            byCode: [{ code: 'TR_X', count: 1, latestReason: hostile, latestAt: '2026-01-01T00:00:00Z' }],
          },
          committed: new RateSeries(1000, 3, 0),
          lastPosition: 0,
        },
      ],
    ]),
    producers: new Map(),
    events: [],
    kafka: { ok: true, at: '2026-01-01T00:00:00Z', problem: undefined },
  };

  it('escapes everything that came from Kafka or the config', () => {
    expect(esc(hostile)).toBe('&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;');
    const html = renderPage(model, 10, 0);
    expect(html).not.toContain('<img');
    expect(html).toContain(esc(hostile));
  });

  it('gives every table a caption and header cells, and every chart a text alternative', () => {
    for (const [id, html] of Object.entries(renderSections(model, 0))) {
      const tables = html.match(/<table>/g)?.length ?? 0;
      expect([id, html.match(/<caption>/g)?.length ?? 0]).toEqual([id, tables]);
      if (tables > 0) expect(html).toContain('<th scope="col">');
    }
    const s = new RateSeries(30_000, 2, 0);
    s.add(3, 0);
    expect(sparkline(s, 'x events', 0)).toMatch(
      /role="img" aria-label="x events: 3 in the last 1 min, per 30 s/,
    );
  });
});
