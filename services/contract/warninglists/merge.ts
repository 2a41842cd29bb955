import type { Warning } from './list-file';

/**
 * What a reader delivers for a record: its own findings, plus what the source
 * claimed where the reader cannot judge the claim. A source may be behind or
 * ahead of the reader's snapshot, so a claim about a list is checked only
 * when both hold the same version of it:
 * - same version: the reader's finding stands (a claim the reader's list
 *   does not bear out is dropped, a match the source left out is added), so
 *   no member can strip or invent a warning;
 * - other version, or a list the reader does not hold: the claim is kept as
 *   the source stated it;
 * - a list only the reader matched is always added.
 */
export function mergeWarnings(
  claimed: readonly Warning[],
  own: readonly Warning[],
  readerVersions: ReadonlyMap<string, number>,
): Warning[] {
  const merged = new Map<string, Warning>(own.map((w) => [w.list, w]));
  for (const claim of claimed) {
    const readerVersion = readerVersions.get(claim.list);
    if (readerVersion === claim.version) continue;
    if (!merged.has(claim.list)) merged.set(claim.list, { list: claim.list, version: claim.version });
  }
  return [...merged.values()].sort((a, b) => a.list.localeCompare(b.list));
}
