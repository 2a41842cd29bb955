import { parseArgs } from 'node:util';
import { loadConfig, type Config, type ConfigScope } from '../platform/config/config';
import { ThreatRelayError } from '../contract/errors';

/** What every command gets: the parsed command line and the checks most of them need. */

/** Parses the whole command line once; the first positional is the command. */
export function parseCommandLine(argv: string[], env: NodeJS.ProcessEnv = process.env) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', default: env.THREATRELAY_CONFIG },
      org: { type: 'string', default: env.THREATRELAY_ORG },
      port: { type: 'string', default: env.PORT },
      name: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      letter: { type: 'string' },
      'force-trust-failure': { type: 'boolean' },
      reason: { type: 'string' },
      watch: { type: 'string' },
      subscription: { type: 'string', multiple: true },
      profile: { type: 'string', multiple: true },
      sasl: { type: 'boolean' },
      'signing-key-file': { type: 'string', default: env.THREATRELAY_SIGNING_KEY_FILE },
      // keys rotate / revoke: where the new private key goes, how long the old one overlaps, which key, from when.
      out: { type: 'string' },
      'overlap-days': { type: 'string' },
      'key-id': { type: 'string' },
      at: { type: 'string' },
      url: { type: 'string', default: env.THREATRELAY_URL ?? 'http://127.0.0.1:8081' },
      // Only to refuse it with the reason: keys are read from the environment, a file or stdin.
      'api-key': { type: 'string' },
      'api-key-file': { type: 'string' },
      'batch-size': { type: 'string', default: '500' },
      format: { type: 'string' },
      // threatrelay sight
      to: { type: 'string', multiple: true },
      recipient: { type: 'string', multiple: true },
      count: { type: 'string' },
      where: { type: 'string' },
      note: { type: 'string' },
      tlp: { type: 'string' },
      'first-seen': { type: 'string' },
      'last-seen': { type: 'string' },
      recipients: { type: 'string' },
      'include-non-ids': { type: 'boolean' },
      // warninglists: the value's type, the snapshot folder, the lists an import keeps, its commit.
      type: { type: 'string' },
      snapshot: { type: 'string' },
      list: { type: 'string', multiple: true },
      commit: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, ...args] = positionals;
  return { command, values, args };
}

export type CliValues = ReturnType<typeof parseCommandLine>['values'];

export interface CommandContext {
  values: CliValues;
  /** The positionals after the command's name. */
  args: string[];
  /** The config; a service passes its scope and resolves only its own part's variables. */
  needConfig(scope?: ConfigScope): Config;
  needOrg(): string;
}

export interface Command<Name extends string = string> {
  name: Name;
  /** Its lines in `threatrelay --help`. */
  usage: string;
  run(ctx: CommandContext): Promise<void>;
}

/** Keeps a command's name a literal type, so the table's names are known to the compiler. */
export function command<Name extends string>(c: Command<Name>): Command<Name> {
  return c;
}

/** A usage mistake: main prints the message alone and exits 2. */
export function fail(message: string): never {
  throw new ThreatRelayError('TR_USAGE', message);
}

export function commandContext(values: CliValues, args: string[]): CommandContext {
  return {
    values,
    args,
    needConfig: (scope) =>
      loadConfig(
        values.config ?? fail('--config FILE (or THREATRELAY_CONFIG) is required'),
        process.env,
        scope,
      ),
    needOrg: () => values.org ?? fail('--org ID (or THREATRELAY_ORG) is required'),
  };
}

/** How long a service may take to stop after SIGINT/SIGTERM. */
export const SHUTDOWN_GRACE_MS = 30_000;

/** Resolves on the first SIGINT or SIGTERM from now on. */
export function nextStopSignal(): Promise<void> {
  return new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
}

/**
 * Runs a long-lived service until SIGINT/SIGTERM (or `stopSignal`, when the
 * caller listened from before the service started), then closes it gracefully.
 */
export async function runUntilSignal(
  close: () => Promise<void>,
  stopSignal: Promise<void> = nextStopSignal(),
): Promise<void> {
  await stopSignal;
  // Graceful, but bounded: with Kafka gone, leaving a group can wait forever. Nothing uncommitted
  // is lost by exiting: it is read again on the next start.
  const force = setTimeout(() => {
    console.error(`shutdown did not finish within ${SHUTDOWN_GRACE_MS / 1000} s; exiting`);
    process.exit(1);
  }, SHUTDOWN_GRACE_MS);
  force.unref();
  await close();
  clearTimeout(force);
}

/** The HTTP host a service listens on: `$HOST`, or every interface. */
export function listenHost(): string {
  return process.env.HOST ?? '0.0.0.0';
}
