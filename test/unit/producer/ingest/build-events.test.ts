import { deterministicEventId } from '../../../../services/producer/ingest/build-events';

describe('eventIds derived from an Idempotency-Key', () => {
  const item = { type: 'domain', value: 'a.example.com' };

  it('are the same for a retry of the same item', () => {
    expect(deterministicEventId('facebook', 'feed-1', 0, item)).toBe(
      deterministicEventId('facebook', 'feed-1', 0, { ...item }),
    );
  });

  it('differ when the key is reused for other content, another position, key or org', () => {
    const id = deterministicEventId('facebook', 'feed-1', 0, item);
    expect(deterministicEventId('facebook', 'feed-1', 0, { ...item, value: 'b.example.com' })).not.toBe(id);
    expect(deterministicEventId('facebook', 'feed-1', 1, item)).not.toBe(id);
    expect(deterministicEventId('facebook', 'feed-2', 0, item)).not.toBe(id);
    expect(deterministicEventId('google', 'feed-1', 0, item)).not.toBe(id);
  });

  it('are RFC 4122 version 5 UUIDs', () => {
    expect(deterministicEventId('facebook', 'feed-1', 0, item)).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });
});
