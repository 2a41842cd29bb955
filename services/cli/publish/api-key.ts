import { readFileSync } from 'node:fs';
import { fail } from '../context';

/**
 * Where `publish` gets its API key: never the command line, which every user
 * of the machine sees in `ps` and the shell keeps in its history. From
 * `--api-key-file FILE` (its first line; `-` is stdin), else
 * `THREATRELAY_API_KEY`.
 */

export const API_KEY_ON_ARGV =
  '--api-key is not taken: a key on the command line is visible to every user in ps and kept in ' +
  'shell history. Set THREATRELAY_API_KEY, or use --api-key-file FILE (--api-key-file - reads stdin)';

export interface ApiKeySources {
  /** `--api-key` as given: only to refuse it with the reason. */
  argv?: string | undefined;
  file?: string | undefined;
  env?: string | undefined;
  /** Reads standard input whole (for `--api-key-file -`). */
  readStdin?: () => string;
}

export function readApiKey(sources: ApiKeySources): string {
  if (sources.argv !== undefined) fail(API_KEY_ON_ARGV);
  if (sources.file !== undefined) {
    let text: string;
    try {
      text =
        sources.file === '-'
          ? (sources.readStdin ?? (() => readFileSync(0, 'utf8')))()
          : readFileSync(sources.file, 'utf8');
    } catch (err) {
      return fail(
        `cannot read the API key from ${sources.file === '-' ? 'stdin' : sources.file}: ${(err as Error).message}`,
      );
    }
    const key = text.split(/\r?\n/)[0]!.trim();
    return key || fail(`--api-key-file ${sources.file} holds no key on its first line`);
  }
  const key = sources.env?.trim();
  return (
    key || fail('an API key is required: set THREATRELAY_API_KEY, or use --api-key-file FILE (- for stdin)')
  );
}
