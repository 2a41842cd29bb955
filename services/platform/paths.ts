import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The project's root folder, found by walking up from this file to the
 * `package.json` named `threatrelay`. Works from the TypeScript sources and
 * from the compiled `dist/` layout alike (the Docker image runs the latter).
 */
export function repoRoot(start: string = __dirname): string {
  for (let dir = start; ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'threatrelay') return dir;
      } catch {
        // Not ours; keep walking up.
      }
    }
    if (dirname(dir) === dir) throw new Error(`no threatrelay package.json above ${start}`);
  }
}

/** The MISP warninglist snapshot the bus ships (`config/warninglists/`), used unless the config names another. */
export function bundledWarninglistsDir(): string {
  return join(repoRoot(), 'config', 'warninglists');
}
