import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ThreatRelayError } from '../errors';
import { listFileSchema, type Warninglist } from './list-file';
import { WarninglistIndex } from './matcher';

/**
 * The pinned snapshot of MISP warninglists the bus ships
 * (`config/warninglists/`): `manifest.json` says where it came from (the
 * upstream commit) and which lists it keeps, each list is `<id>.json`
 * exactly as upstream wrote it. `threatrelay warninglists import` rewrites it.
 */

export const MANIFEST_FILE = 'manifest.json';

export const manifestSchema = z.strictObject({
  source: z.string().min(1),
  license: z.string().min(1),
  /** The upstream commit the lists were taken from; null when the checkout was not a git work tree. */
  commit: z
    .string()
    .regex(/^[0-9a-f]{40}$/)
    .nullable(),
  importedAt: z.iso.datetime(),
  lists: z
    .array(
      z.strictObject({
        id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/),
        name: z.string(),
        version: z.number().int().min(0),
        type: z.string(),
        entries: z.number().int().min(0),
      }),
    )
    .min(1),
});
export type Manifest = z.infer<typeof manifestSchema>;

export interface Snapshot {
  manifest: Manifest;
  lists: Warninglist[];
}

function readJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ThreatRelayError(
      'TR_CONFIG',
      `cannot read warninglist file ${path}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new ThreatRelayError('TR_CONFIG', `${path} is not JSON: ${(err as Error).message}`, { cause: err });
  }
}

function parsed<T>(schema: z.ZodType<T>, value: unknown, path: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
  throw new ThreatRelayError('TR_CONFIG', `${path} is not a valid warninglist file: ${problems.join('; ')}`);
}

/** Reads one MISP `list.json`; throws TR_CONFIG naming the file and every failing field. */
export function readListFile(path: string): Warninglist['file'] {
  return parsed(listFileSchema, readJson(path), path);
}

/** Reads a snapshot folder; each list's version must be the one the manifest recorded. */
export function readSnapshot(dir: string): Snapshot {
  const manifestPath = join(dir, MANIFEST_FILE);
  const manifest = parsed(manifestSchema, readJson(manifestPath), manifestPath);
  const lists = manifest.lists.map((entry) => {
    const path = join(dir, `${entry.id}.json`);
    const file = readListFile(path);
    if (file.version !== entry.version) {
      throw new ThreatRelayError(
        'TR_CONFIG',
        `${path} is version ${file.version}, the manifest records ${entry.version}: re-run threatrelay warninglists import`,
      );
    }
    return { id: entry.id, file };
  });
  return { manifest, lists };
}

/** The index of a snapshot folder; an entry that cannot be used is a TR_CONFIG naming it. */
export function loadWarninglists(dir: string): WarninglistIndex {
  const { lists } = readSnapshot(dir);
  try {
    return new WarninglistIndex(lists);
  } catch (err) {
    if (err instanceof ThreatRelayError) {
      const where = err.details.map((d) => `${d.path}: ${d.message}`).join('; ');
      throw new ThreatRelayError('TR_CONFIG', `the warninglists in ${dir} cannot be loaded: ${where}`, {
        cause: err,
      });
    }
    throw err;
  }
}
