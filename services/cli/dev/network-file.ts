import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { repoRoot } from '../../platform/paths';
import type { DevNetwork } from './types';

/** Where `threatrelay dev` leaves what it generated, for scripts that drive the demo network. */
export function defaultNetworkFile(): string {
  return join(repoRoot(), '.cache', 'dev', 'network.json');
}

/**
 * What a script needs to drive the demo network: each producer's URL and API
 * key, each TAXII server's discovery URL and reader. It holds secrets, so it
 * is created readable by its owner only (0600, also when it existed before).
 * and the operator console's `{url, username, password}`.
 */
export function networkDescription(network: DevNetwork): Record<string, unknown> {
  return {
    producers: Object.fromEntries(
      Object.entries(network.producers).map(([org, p]) => [
        org,
        { url: p.url, apiKey: network.apiKeys[org] },
      ]),
    ),
    taxii: Object.fromEntries(
      Object.entries(network.taxii).map(([org, t]) => [
        org,
        { url: t.discoveryUrl, ...network.taxiiReaders[org] },
      ]),
    ),
    console: network.console,
  };
}

export function writeNetworkFile(network: DevNetwork, path = defaultNetworkFile()): string {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, `${JSON.stringify(networkDescription(network), null, 2)}\n`, { mode: 0o600 });
  // `mode` applies only when the file is created: an older file keeps its bits otherwise.
  chmodSync(path, 0o600);
  return path;
}
