import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ThreatRelayError } from '../../contract/errors';
import {
  MANIFEST_FILE,
  WarninglistIndex,
  readListFile,
  readSnapshot,
  type Manifest,
  type Warninglist,
} from '../../contract/warninglists';

/**
 * Refreshes the snapshot from a checkout of MISP/misp-warninglists: the
 * chosen lists are read and checked first (every entry usable), and only then
 * is anything written, so a failed import leaves the snapshot as it was.
 */

export const UPSTREAM = 'https://github.com/MISP/misp-warninglists';
export const UPSTREAM_LICENSE = 'CC0-1.0';

export interface ImportOptions {
  /** The list ids to keep; default the ones the snapshot already keeps. */
  lists?: readonly string[];
  /** The upstream commit; default what `git rev-parse HEAD` says in the checkout, else none. */
  commit?: string;
  now?: Date;
}

function chosenLists(snapshotDir: string, options: ImportOptions): string[] {
  if (options.lists && options.lists.length > 0) return [...new Set(options.lists)].sort();
  if (!existsSync(join(snapshotDir, MANIFEST_FILE))) {
    throw new ThreatRelayError(
      'TR_USAGE',
      `${snapshotDir} holds no snapshot yet: name the lists with --list ID`,
    );
  }
  return readSnapshot(snapshotDir).manifest.lists.map((l) => l.id);
}

function checkoutCommit(checkout: string): string | null {
  try {
    const head = execFileSync('git', ['-C', checkout, 'rev-parse', 'HEAD'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    return /^[0-9a-f]{40}$/.test(head) ? head : null;
  } catch {
    return null;
  }
}

/** Reads the chosen lists from the checkout; every missing or unusable list is reported at once. */
function readChosen(checkout: string, ids: readonly string[]): Warninglist[] {
  const problems: string[] = [];
  const lists: Warninglist[] = [];
  for (const id of ids) {
    const path = join(checkout, 'lists', id, 'list.json');
    if (!existsSync(path)) {
      problems.push(`${id}: no lists/${id}/list.json in ${checkout}`);
      continue;
    }
    try {
      lists.push({ id, file: readListFile(path) });
    } catch (err) {
      if (!(err instanceof ThreatRelayError)) throw err;
      problems.push(`${id}: ${err.message}`);
    }
  }
  if (problems.length === 0) {
    try {
      new WarninglistIndex(lists);
    } catch (err) {
      if (!(err instanceof ThreatRelayError)) throw err;
      problems.push(...err.details.map((d) => `${d.path}: ${d.message}`));
    }
  }
  if (problems.length > 0) {
    throw new ThreatRelayError(
      'TR_USAGE',
      `nothing imported; ${problems.length} problem(s):\n  ${problems.join('\n  ')}`,
    );
  }
  return lists;
}

export function importWarninglists(
  checkout: string,
  snapshotDir: string,
  options: ImportOptions = {},
): Manifest {
  if (options.commit !== undefined && !/^[0-9a-f]{40}$/.test(options.commit)) {
    throw new ThreatRelayError('TR_USAGE', '--commit must be a full 40-hex-digit git commit id');
  }
  const ids = chosenLists(snapshotDir, options);
  const lists = readChosen(checkout, ids);
  const manifest: Manifest = {
    source: UPSTREAM,
    license: UPSTREAM_LICENSE,
    commit: options.commit ?? checkoutCommit(checkout),
    importedAt: (options.now ?? new Date()).toISOString(),
    lists: lists.map(({ id, file }) => ({
      id,
      name: file.name,
      version: file.version,
      type: file.type,
      entries: file.list.length,
    })),
  };
  mkdirSync(snapshotDir, { recursive: true });
  const kept = new Set(ids.map((id) => `${id}.json`));
  for (const name of readdirSync(snapshotDir)) {
    if (name.endsWith('.json') && name !== MANIFEST_FILE && !kept.has(name)) rmSync(join(snapshotDir, name));
  }
  // Upstream's bytes as they are, so a list can be compared with its source commit.
  for (const id of ids)
    copyFileSync(join(checkout, 'lists', id, 'list.json'), join(snapshotDir, `${id}.json`));
  const temporary = join(snapshotDir, `${MANIFEST_FILE}.tmp`);
  writeFileSync(temporary, `${JSON.stringify(manifest, null, 2)}\n`);
  renameSync(temporary, join(snapshotDir, MANIFEST_FILE));
  return manifest;
}
