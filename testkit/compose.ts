import { interpolate } from '../services/cli/compose-env';
import type { ConfigScope } from '../services/platform/config/config';

/**
 * What a docker-compose.yml service hands its container, computed without
 * Docker: the environment compose would set from a .env, and the part of the
 * config the container's command resolves (services/cli/main.ts). Shared by
 * the compose file's unit checks and the loopback rehearsal of the stack.
 */

/** The part of a compose service these helpers read (a service of readComposeStack(), merges resolved). */
export interface ComposeServiceLike {
  command?: string[];
  environment?: Record<string, unknown>;
}

/** The value following `flag` in the service's command, e.g. argOf(s, '--org'). */
export const argOf = (s: ComposeServiceLike, flag: string): string | undefined => {
  const i = s.command?.indexOf(flag) ?? -1;
  return i >= 0 ? s.command![i + 1] : undefined;
};

/** The environment a container gets: its `environment:` with .env interpolated. */
export const containerEnv = (s: ComposeServiceLike, dotenv: Record<string, string>): Record<string, string> =>
  Object.fromEntries(
    Object.entries(s.environment ?? {}).map(([k, v]) => [k, interpolate(String(v), dotenv)]),
  );

/** The part of the config a service resolves, as services/cli/main.ts loads it for its command. */
export const scopeOf = (s: ComposeServiceLike): ConfigScope | undefined => {
  const org = argOf(s, '--org');
  const command = s.command?.[0];
  if ((command === 'producer' || command === 'subscriber' || command === 'taxii') && org)
    return { role: command, org };
  if (command === 'receiver') return { role: 'receiver' };
  if (command === 'console') return { role: 'console' };
  return undefined;
};
