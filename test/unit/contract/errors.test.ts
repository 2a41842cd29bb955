import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CODES, ERROR_DOCS, ThreatRelayError } from '../../../services/contract/errors';

describe('error codes', () => {
  it('documents every code in ERROR_DOCS and in docs/errors.md', () => {
    const table = readFileSync(join(__dirname, '../../../docs/errors.md'), 'utf8');
    for (const code of ERROR_CODES) {
      expect(ERROR_DOCS[code].summary.length).toBeGreaterThan(10);
      // The documented table gives the same HTTP status, or a dash for codes no API answers with.
      expect(table).toContain(`| \`${code}\` | ${ERROR_DOCS[code].httpStatus ?? '—'} |`);
    }
    expect(Object.keys(ERROR_DOCS).sort()).toEqual([...ERROR_CODES].sort());
  });

  it('carries status, retryability and cause from the code', () => {
    const cause = new Error('socket hang up');
    const err = new ThreatRelayError('TR_KAFKA_UNAVAILABLE', 'down', { cause, retryAfterSeconds: 5 });
    expect(err).toMatchObject({ httpStatus: 503, canRetry: true, retryAfterSeconds: 5, cause });
    expect(new ThreatRelayError('TR_DELIVERY_REJECTED', 'no').canRetry).toBe(false);
  });
});
