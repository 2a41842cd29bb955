import { resolve } from 'node:path';
import { ThreatRelayError } from '../contract/errors';
import { loadWarninglists, type WarninglistIndex } from '../contract/warninglists';
import { bundledWarninglistsDir } from './paths';

/**
 * One index per snapshot folder per process: a producer and the subscribers
 * of one process (as `threatrelay dev` and the tests run them) share it
 * instead of each parsing 70,000 entries again.
 */
const loaded = new Map<string, WarninglistIndex>();

/** The index of `dir` (default: the bundled snapshot); throws TR_CONFIG when the folder cannot be loaded. */
export function openWarninglists(dir: string = bundledWarninglistsDir()): WarninglistIndex {
  const key = resolve(dir);
  let index = loaded.get(key);
  if (!index) {
    index = loadWarninglists(key);
    loaded.set(key, index);
  }
  return index;
}

/** Refuses a config naming lists the snapshot does not hold: a typo would otherwise block or drop nothing. */
export function checkWarninglistIds(
  index: WarninglistIndex,
  uses: { path: string; ids: readonly string[] }[],
): void {
  const unknown = uses.flatMap(({ path, ids }) =>
    ids.flatMap((id, i) => (index.has(id) ? [] : [`${path}.${i}: no warninglist "${id}" in the snapshot`])),
  );
  if (unknown.length > 0) throw new ThreatRelayError('TR_CONFIG', unknown.join('; '));
}
