import fc from 'fast-check';
import type { KafkaMessage } from 'kafkajs';
import { loadEventCodec } from '../../../services/contract/avro/codec';
import { VerifiedRoots } from '../../../services/contract/batch-signature';
import { ERROR_CODES, type ErrorCode } from '../../../services/contract/errors';
import { kafkaNames } from '../../../services/contract/names';
import { orgPublicKeys, signingKeyOf } from '../../../services/contract/keyring';
import { generateSigningKeyPair, loadPrivateKey } from '../../../services/contract/signing';
import { describeRecord } from '../../../services/console/events';
import type { OrgConfig } from '../../../services/platform/config/config';
import { deadLetterEntry } from '../../../services/subscriber/dlq/read';
import { ReadRecords, verifyRecord, type RecordChecks } from '../../../services/contract/record-read';
import { readFeedRecord } from '../../../services/taxii/feed';
import { arbitraryMessage } from '../../fixtures/arbitrary-message';

/**
 * Every reader's entry point that needs no broker, fed any message a member
 * can write: each returns its verdict (an event, a refusal with a TR_ code,
 * an entry), never throws. A throw would restart the reader's consumer at
 * the same offset, and the partition would be stuck for every reader of it.
 * Fixed seed and run count; fast-check prints the seed and path of a failure.
 */
const RUNS = { seed: 2026_12_08, numRuns: 600 };
const codec = loadEventCodec();
const twitter = generateSigningKeyPair();
const names = kafkaNames('threatrelay');
const fbi: OrgConfig = {
  id: 'fbi',
  name: 'FBI',
  kind: 'government',
  maxTlp: 'amber',
  keys: [],
  pdq: { minQuality: 50 },
};
const TWITTER_KEY = { id: 'twitter-2026', publicKey: twitter.publicKey };
const orgKeys = orgPublicKeys([{ id: 'twitter', keys: [TWITTER_KEY] }]);
const checks = (): RecordChecks => ({
  codec,
  org: fbi,
  orgKeys,
  verifiedRoots: new VerifiedRoots(),
  readRecords: new ReadRecords(),
  freshness: { maxAgeMs: 30 * 86_400_000, maxSkewMs: 300_000 },
});
const messages = arbitraryMessage(codec, {
  org: 'twitter',
  key: signingKeyOf(TWITTER_KEY),
  privateKey: loadPrivateKey(twitter.privateKeyPem),
});
const isCode = (code: string): boolean => ERROR_CODES.includes(code as ErrorCode);

/** What the console or `dlq list` shows from a header is bounded: an oversized header cannot fill the page. */
const SHOWN_MAX = 256;

describe('readers on any message a member can write', () => {
  it('the record checks return a verdict with a TR_ code, or the event', () => {
    const shared = checks();
    fc.assert(
      fc.property(messages, fc.boolean(), (message, skipFreshness) => {
        const verdicts = [
          verifyRecord(checks(), message),
          verifyRecord(shared, message, { position: { topic: 't', partition: 0 }, skipFreshness }),
        ];
        for (const v of verdicts) {
          if (v.ok) expect(v.event.source.org).toBe('twitter');
          else {
            expect(isCode(v.code)).toBe(true);
            expect(typeof v.reason).toBe('string');
          }
        }
      }),
      RUNS,
    );
  });

  it('the console describes any record, verified or not, with bounded fields', () => {
    fc.assert(
      fc.property(
        messages,
        fc.constantFrom(names.community('clear'), names.direct('fbi')),
        (message, topic) => {
          const shown = describeRecord(message, topic, names, codec, orgKeys);
          expect(typeof shown.verified).toBe('boolean');
          for (const field of [shown.eventId, shown.sourceOrg, shown.producedAt])
            expect(field.length).toBeLessThanOrEqual(SHOWN_MAX);
        },
      ),
      RUNS,
    );
  });

  it('the TAXII feed turns any record into store entries or a refusal with a TR_ code', () => {
    fc.assert(
      fc.property(messages, (message) => {
        const read = readFeedRecord(checks(), message);
        if (read.ok) {
          expect(read.entry.additions.length).toBeGreaterThan(0);
          expect(Number.isFinite(read.entry.at)).toBe(true);
        } else expect(isCode(read.code)).toBe(true);
      }),
      RUNS,
    );
  });

  it('dlq list reads any record of a DLQ topic as an entry', () => {
    fc.assert(
      fc.property(messages, (message: KafkaMessage) => {
        const entry = deadLetterEntry(message, 0);
        for (const field of [entry.at, entry.code, entry.source.topic, entry.source.offset])
          expect(typeof field).toBe('string');
        expect(typeof entry.source.partition).toBe('number');
      }),
      RUNS,
    );
  });
});
