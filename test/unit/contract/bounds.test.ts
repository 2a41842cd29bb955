import { loadEventCodec } from '../../../services/contract/avro/codec';
import { BOUNDS } from '../../../services/contract/bounds';
import { isThreatRelayError, type ThreatRelayError } from '../../../services/contract/errors';
import { indicatorInputSchema, revocationInputSchema } from '../../../services/contract/indicator';
import type { Indicator, IndicatorRevoked, ThreatEvent } from '../../../services/contract/model';
import { publishedFull, revoked } from '../../fixtures/threat-events';

/**
 * One set of bounds for the API and the readers: each bound is tried at its
 * limit (both accept) and one past it (the API answers with the failing path,
 * the reader dead-letters as TR_RECORD_OUT_OF_BOUNDS naming the same field).
 */
const codec = loadEventCodec();

const apiInput = {
  type: 'domain',
  value: 'evil-campaign.example.com',
  category: 'disinformation',
  tlp: 'clear',
};

function withIndicator(change: Partial<Indicator>): ThreatEvent {
  const base = structuredClone(publishedFull);
  const payload = base.payload as { indicator: Indicator };
  payload.indicator = { ...payload.indicator, ...change };
  return base;
}

function readError(event: ThreatEvent): ThreatRelayError | undefined {
  try {
    codec.decode(codec.encode(event));
    return undefined;
  } catch (err) {
    if (isThreatRelayError(err)) return err;
    throw err;
  }
}

const repeat = (n: number, length: number): string[] =>
  Array.from({ length: n }, (_, i) => `t${i}`.padEnd(length, 'x'));
const url = (length: number): string => `https://example.org/${'a'.repeat(length - 20)}`;

const cases: [name: string, field: string, at: Partial<Indicator>, past: Partial<Indicator>][] = [
  ['tag count', 'tags', { tags: repeat(BOUNDS.tags, 8) }, { tags: repeat(BOUNDS.tags + 1, 8) }],
  ['tag length', 'tags.0', { tags: repeat(1, BOUNDS.tag) }, { tags: repeat(1, BOUNDS.tag + 1) }],
  [
    'reference count',
    'references',
    { references: Array(BOUNDS.references).fill(url(40)) },
    { references: Array(BOUNDS.references + 1).fill(url(40)) },
  ],
  [
    'reference length',
    'references.0',
    { references: [url(BOUNDS.reference)] },
    { references: [url(BOUNDS.reference + 1)] },
  ],
  [
    'threat actor length',
    'threatActor',
    { threatActor: 'a'.repeat(BOUNDS.name) },
    { threatActor: 'a'.repeat(BOUNDS.name + 1) },
  ],
  [
    'campaign length',
    'campaign',
    { campaign: 'c'.repeat(BOUNDS.name) },
    { campaign: 'c'.repeat(BOUNDS.name + 1) },
  ],
  [
    'description length',
    'description',
    { description: 'd'.repeat(BOUNDS.description) },
    { description: 'd'.repeat(BOUNDS.description + 1) },
  ],
];

describe('indicator bounds', () => {
  it.each(cases)('the API and the reader both accept a %s at its bound', (_name, _field, at) => {
    expect(indicatorInputSchema.safeParse({ ...apiInput, ...at }).success).toBe(true);
    expect(readError(withIndicator(at))).toBeUndefined();
  });

  it.each(cases)('the API and the reader both refuse a %s past its bound', (_name, field, _at, past) => {
    const api = indicatorInputSchema.safeParse({ ...apiInput, ...past });
    expect(api.success).toBe(false);
    expect(api.error?.issues.map((i) => i.path.join('.'))).toContain(field);
    const err = readError(withIndicator(past));
    expect(err?.code).toBe('TR_RECORD_OUT_OF_BOUNDS');
    expect(err?.details.map((d) => d.path)).toContain(`payload.indicator.${field}`);
  });

  it.each([
    'javascript:alert(1)',
    'data:text/html,x',
    'file:///etc/passwd',
    'ftp://example.org/x',
    'not a url',
  ])('the API and the reader both refuse the reference %s', (reference) => {
    expect(indicatorInputSchema.safeParse({ ...apiInput, references: [reference] }).success).toBe(false);
    const err = readError(withIndicator({ references: ['https://example.org/ok', reference] }));
    expect(err?.code).toBe('TR_RECORD_OUT_OF_BOUNDS');
    expect(err?.details).toEqual([
      { path: 'payload.indicator.references.1', message: 'must be a URL with scheme http or https' },
    ]);
  });

  it('the API and the reader both refuse a revocation reason past its bound', () => {
    const reason = 'r'.repeat(BOUNDS.reason + 1);
    expect(revocationInputSchema.safeParse({ key: 'a'.repeat(64), tlp: 'clear', reason }).success).toBe(
      false,
    );
    const event = structuredClone(revoked);
    (event.payload as IndicatorRevoked).reason = reason;
    expect(readError(event)?.details).toEqual([
      { path: 'payload.reason', message: `must be at most ${BOUNDS.reason} characters` },
    ]);
  });

  it('does not quote the text that is out of bounds in the reason', () => {
    const secret = 'tlp-red-secret-'.repeat(300);
    expect(readError(withIndicator({ description: secret }))?.message).not.toContain('tlp-red-secret');
  });

  it('refuses a record value larger than the record bound before decoding it', () => {
    // Garbage past the bound: the size is the verdict, not the malformed body.
    const err = (() => {
      try {
        codec.decode(Buffer.alloc(BOUNDS.recordBytes + 1, 0xc3));
      } catch (e) {
        return e as ThreatRelayError;
      }
      return undefined;
    })();
    expect(err?.code).toBe('TR_RECORD_OUT_OF_BOUNDS');
    expect(err?.details).toEqual([{ path: 'value', message: `must be at most ${BOUNDS.recordBytes} bytes` }]);
  });

  it('fits the largest record the API can make, in three-byte characters, within the record bound', () => {
    const wide = (n: number): string => '\u20ac'.repeat(n);
    const recipients = Array.from({ length: BOUNDS.recipients }, (_, i) => `org-${i}`.padEnd(63, 'x'));
    const largest = withIndicator({
      value: wide(BOUNDS.value),
      recipients,
      threatActor: wide(BOUNDS.name),
      campaign: wide(BOUNDS.name),
      tags: Array(BOUNDS.tags).fill(wide(BOUNDS.tag)),
      description: wide(BOUNDS.description),
      references: Array(BOUNDS.references).fill(`https://example.org/${wide(BOUNDS.reference - 20)}`),
    });
    largest.source.submitter = wide(BOUNDS.submitter);
    expect(codec.encode(largest).length).toBeLessThan(BOUNDS.recordBytes);
  });

  it('names a shape problem before a bound: an unknown TLP with too many tags is TR_RECORD_INVALID', () => {
    const event = withIndicator({ tlp: 'purple' as never, tags: repeat(BOUNDS.tags + 1, 8) });
    expect(readError(event)?.code).toBe('TR_RECORD_INVALID');
  });
});
