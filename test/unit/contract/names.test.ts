import { kafkaNames } from '../../../services/contract/names';

describe('topic routing', () => {
  const t = kafkaNames('threatrelay');
  it.each([
    ['clear', [], ['threatrelay.community.clear']],
    ['green', [], ['threatrelay.community.green']],
    ['amber', [], ['threatrelay.community.amber']],
    ['amber+strict', ['fbi', 'dhs'], ['threatrelay.direct.fbi', 'threatrelay.direct.dhs']],
    ['red', ['fbi', 'fbi'], ['threatrelay.direct.fbi']],
  ] as const)('routes tlp %s with recipients %j to %j', (tlp, recipients, expected) => {
    expect(t.route(tlp, recipients)).toEqual(expected);
  });
  it('names DLQ topics per subscription', () => {
    expect(t.dlq('dhs-all')).toBe('threatrelay.dlq.dhs-all');
  });
  it("keeps a subscriber's transactional ids apart from its org's producer's", () => {
    expect(t.subscriberTransactionalIdPrefix('dhs')).toBe('threatrelay.subscriber.dhs.');
    expect(t.transactionalIdPrefix('dhs').startsWith(t.subscriberTransactionalIdPrefix('dhs'))).toBe(false);
  });
});

describe('the topics an org reads', () => {
  const t = kafkaNames('threatrelay');
  it('are the community levels up to its maxTlp and its own direct topic', () => {
    expect(t.readBy({ id: 'smallco', maxTlp: 'green' })).toEqual([
      'threatrelay.community.clear',
      'threatrelay.community.green',
      'threatrelay.direct.smallco',
    ]);
  });
});
