import { resolve } from 'node:path';
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
