import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkWarninglistIds, openWarninglists } from '../../../services/platform/warninglists';

describe('opening the warninglists of a config', () => {
  it('refuses list ids the snapshot does not hold, naming where each is', () => {
    const index = openWarninglists();
    expect(() =>
      checkWarninglistIds(index, [
        { path: 'orgs.0.warninglists.reject', ids: ['rfc1918', 'rfc1819'] },
        { path: 'subscriptions.2.filter.warninglists.drop', ids: ['url-shortener'] },
      ]),
    ).toThrow(
      expect.objectContaining({
        code: 'TR_CONFIG',
        message: 'orgs.0.warninglists.reject.1: no warninglist "rfc1819" in the snapshot',
      }),
    );
  });

  it('loads a folder once per process', () => {
    expect(openWarninglists()).toBe(openWarninglists());
  });

  it('says which folder it cannot read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'no-snapshot-'));
    try {
      expect(() => openWarninglists(dir)).toThrow(
        expect.objectContaining({ code: 'TR_CONFIG', message: expect.stringContaining(dir) }),
      );
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});
