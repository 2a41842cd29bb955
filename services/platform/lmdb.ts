import { open, type RootDatabase, type RootDatabaseOptionsWithPath } from 'lmdb';

/**
 * lmdb-js grows an environment's memory map as its file grows, and keeps the
 * earlier maps mapped: 30 stores of 20,000 entries held 1,058 MiB resident
 * for 420 MB of files. One map of 1 GiB from the start costs address space,
 * not memory (the file still grows only as used), and lmdb-js still grows it
 * past that when it must.
 */
const MAP_BYTES = 2 ** 30;

/** Opens an lmdb environment the way every store of the project does: no value compression, the map sized once. */
export function openEnvironment(
  path: string,
  options: Omit<RootDatabaseOptionsWithPath, 'path'> = {},
): RootDatabase {
  return open({ path, compression: false, mapSize: MAP_BYTES, ...options });
}
