import fc from 'fast-check';
import { loadEventCodec } from '../../../../services/contract/avro/codec';
import { ERROR_CODES, isThreatRelayError } from '../../../../services/contract/errors';
import { allEvents } from '../../../fixtures/threat-events';

/**
 * The decoder reads bytes any member (or a broken disk) wrote. Whatever they
 * are, it either decodes them or throws a ThreatRelayError with a TR_ code:
 * never a RangeError, a TypeError or a hang, which would stall a partition.
 * Fixed seed and run count; fast-check prints the seed and path of a failure.
 */
const RUNS = { seed: 1_414_2026, numRuns: 3000 };
const codec = loadEventCodec();
/** Sightings exist from schema v4 on: an older writer has no branch for them. */
const SIGHTING_SINCE = 4;
const valid = Object.values(allEvents).flatMap((e) =>
  codec.versions
    .filter((v) => e.payload.kind !== 'Sighting' || v.version >= SIGHTING_SINCE)
    .map((v) => codec.encode(e, { version: v.version })),
);

function decodesOrRaisesTrCode(bytes: Buffer): void {
  try {
    codec.decode(bytes);
  } catch (err) {
    if (!isThreatRelayError(err) || !ERROR_CODES.includes(err.code)) {
      throw new Error(`decode threw ${String(err)} (not a ThreatRelayError with a TR_ code)`, { cause: err });
    }
  }
}

describe('the Avro decoder on hostile bytes', () => {
  it('any byte string: decodes or raises a TR_ code', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (b) => decodesOrRaisesTrCode(Buffer.from(b))),
      RUNS,
    );
  });

  it('any byte string behind a real fingerprint: decodes or raises a TR_ code', () => {
    const header = valid[0]!.subarray(0, 10);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (b) =>
        decodesOrRaisesTrCode(Buffer.concat([header, Buffer.from(b)])),
      ),
      RUNS,
    );
  });

  it('a valid record with bits flipped: decodes or raises a TR_ code', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...valid),
        fc.array(fc.nat(), { minLength: 1, maxLength: 8 }),
        (record, flips) => {
          const bytes = Buffer.from(record);
          for (const f of flips) bytes[Math.floor(f / 8) % bytes.length]! ^= 1 << (f % 8);
          decodesOrRaisesTrCode(bytes);
        },
      ),
      RUNS,
    );
  });

  it('a valid record truncated anywhere: raises TR_CODEC_MALFORMED (TR_CODEC_UNKNOWN_FINGERPRINT inside the header)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...valid), fc.nat(), (record, cut) => {
        const bytes = record.subarray(0, cut % record.length);
        let err: unknown;
        try {
          codec.decode(bytes);
        } catch (e) {
          err = e;
        }
        expect(
          isThreatRelayError(err, 'TR_CODEC_MALFORMED') ||
            isThreatRelayError(err, 'TR_CODEC_UNKNOWN_FINGERPRINT'),
        ).toBe(true);
      }),
      RUNS,
    );
  });

  it('a valid record with bytes inserted or appended: decodes or raises a TR_ code', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...valid),
        fc.nat(),
        fc.uint8Array({ minLength: 1, maxLength: 16 }),
        (r, at, extra) => {
          const i = at % (r.length + 1);
          decodesOrRaisesTrCode(Buffer.concat([r.subarray(0, i), Buffer.from(extra), r.subarray(i)]));
        },
      ),
      RUNS,
    );
  });
});
