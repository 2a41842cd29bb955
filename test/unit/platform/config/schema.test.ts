import { createHash } from 'node:crypto';
import { parseConfig } from '../../../../services/platform/config/config';
import { isThreatRelayError } from '../../../../services/contract/errors';

/** orgs[].keys and the single publicKey form it replaces; ids derived with node:crypto here. */
const OLD = Buffer.alloc(32, 7).toString('base64');
const NEW = Buffer.alloc(32, 8).toString('base64');
const derived = (key: string): string =>
  createHash('sha256').update(Buffer.from(key, 'base64')).digest('hex').slice(0, 16);

function configWith(org: Record<string, unknown>): unknown {
  return { orgs: [{ id: 'facebook', name: 'Meta', kind: 'company', ...org }] };
}

function problemsOf(raw: unknown): string[] {
  try {
    parseConfig(raw, {});
  } catch (err) {
    if (isThreatRelayError(err, 'TR_CONFIG')) return err.details.map((d) => `${d.path}: ${d.message}`);
    throw err;
  }
  return [];
}

describe('config: an org signing keys', () => {
  it('reads the single publicKey form as one key with the derived id and an open validity', () => {
    const config = parseConfig(configWith({ publicKey: OLD }), {});
    expect(config.orgs[0]!.keys).toEqual([{ id: derived(OLD), publicKey: OLD }]);
  });

  it('gives an org without a key an empty list', () => {
    expect(parseConfig(configWith({}), {}).orgs[0]!.keys).toEqual([]);
  });

  it('keeps each listed key with its id and validity, deriving a missing id', () => {
    const keys = [
      { id: 'fb-2025', publicKey: OLD, notAfter: '2026-12-15T00:00:00Z' },
      { publicKey: NEW, notBefore: '2026-12-08T00:00:00Z', revokedAt: '2026-12-09T00:00:00.000+01:00' },
    ];
    expect(parseConfig(configWith({ keys }), {}).orgs[0]!.keys).toEqual([
      keys[0],
      { id: derived(NEW), ...keys[1] },
    ]);
  });

  it('refuses publicKey and keys together', () => {
    expect(problemsOf(configWith({ publicKey: OLD, keys: [{ publicKey: NEW }] }))).toEqual([
      'orgs.0.keys: give publicKey (one key) or keys, not both',
    ]);
  });

  it('refuses two keys of one org with the same id, derived or given', () => {
    expect(problemsOf(configWith({ keys: [{ publicKey: OLD }, { publicKey: OLD }] }))).toEqual([
      `orgs.0.keys: duplicate key id "${derived(OLD)}"`,
    ]);
    expect(
      problemsOf(
        configWith({
          keys: [
            { id: 'k', publicKey: OLD },
            { id: 'k', publicKey: NEW },
          ],
        }),
      ),
    ).toEqual(['orgs.0.keys: duplicate key id "k"']);
  });

  it('refuses a notAfter that is not after notBefore', () => {
    const key = { publicKey: OLD, notBefore: '2026-12-08T00:00:00Z', notAfter: '2026-12-08T00:00:00Z' };
    expect(problemsOf(configWith({ keys: [key] }))).toEqual([
      'orgs.0.keys.0.notAfter: must be after notBefore',
    ]);
  });

  it('refuses an instant without a time zone and a key id with a space', () => {
    expect(
      problemsOf(configWith({ keys: [{ id: 'a b', publicKey: OLD, revokedAt: '2026-12-08 10:00' }] })),
    ).toEqual([
      'orgs.0.keys.0.id: must be 1-64 chars of A-Z, a-z, 0-9, ., _ or -',
      'orgs.0.keys.0.revokedAt: must be an ISO-8601 date-time with a time zone',
    ]);
  });

  it('refuses a public key that is not 32 bytes, naming the entry', () => {
    expect(problemsOf(configWith({ keys: [{ publicKey: 'c2hvcnQ=' }] }))).toEqual([
      'orgs.0.keys.0.publicKey: must be a base64 raw 32-byte Ed25519 public key',
    ]);
  });
});
