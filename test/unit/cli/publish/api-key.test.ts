import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readApiKey } from '../../../../services/cli/publish/api-key';
import { isThreatRelayError } from '../../../../services/contract/errors';

const usageError = (f: () => unknown): string => {
  try {
    f();
  } catch (err) {
    if (isThreatRelayError(err, 'TR_USAGE')) return err.message;
    throw err;
  }
  throw new Error('no usage error');
};

describe('publish: where the API key comes from', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tr-api-key-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses --api-key, saying why and what to use instead', () => {
    const message = usageError(() => readApiKey({ argv: 'trk_secret', env: 'trk_env' }));
    expect(message).toMatch(/visible to every user in ps/);
    expect(message).toMatch(/THREATRELAY_API_KEY/);
    expect(message).toMatch(/--api-key-file FILE/);
    expect(message).not.toContain('trk_secret');
  });

  it('reads the first line of --api-key-file, before the environment', () => {
    const file = join(dir, 'key');
    writeFileSync(file, 'trk_from_file  \nsecond line\n');
    expect(readApiKey({ file, env: 'trk_env' })).toBe('trk_from_file');
  });

  it('reads stdin for --api-key-file -', () => {
    expect(readApiKey({ file: '-', readStdin: () => 'trk_stdin\n' })).toBe('trk_stdin');
  });

  it('falls back to THREATRELAY_API_KEY', () => {
    expect(readApiKey({ env: ' trk_env ' })).toBe('trk_env');
  });

  it('is a usage error with no key anywhere, an empty file, or an unreadable one', () => {
    expect(usageError(() => readApiKey({}))).toMatch(/THREATRELAY_API_KEY/);
    const empty = join(dir, 'empty');
    writeFileSync(empty, '\n');
    expect(usageError(() => readApiKey({ file: empty }))).toMatch(/holds no key/);
    expect(usageError(() => readApiKey({ file: join(dir, 'missing') }))).toMatch(/cannot read the API key/);
  });
});
