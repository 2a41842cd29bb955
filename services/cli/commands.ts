import { operatorConsole } from './commands/console';
import { dev } from './commands/dev';
import { dlq } from './commands/dlq';
import { kafka } from './commands/kafka';
import { keys } from './commands/keys';
import { producer } from './commands/producer';
import { provision } from './commands/provision';
import { publish } from './commands/publish';
import { receiver } from './commands/receiver';
import { sight } from './commands/sight';
import { subscriber } from './commands/subscriber';
import { subscription } from './commands/subscription';
import { taxii } from './commands/taxii';
import { warninglists } from './commands/warninglists';

/** The command table, in the order `threatrelay --help` lists them. */
export const COMMANDS = [
  dev,
  producer,
  subscriber,
  taxii,
  provision,
  receiver,
  keys,
  kafka,
  publish,
  sight,
  dlq,
  subscription,
  warninglists,
  operatorConsole,
] as const;

/** The subcommands of `threatrelay`; docker-compose.yml may only run these (a test checks it). */
export const CLI_COMMANDS = [...COMMANDS.map((c) => c.name), 'help'] as const;
export type CliCommand = (typeof CLI_COMMANDS)[number];

export const USAGE = [
  'threatrelay <command> [options]',
  '',
  ...COMMANDS.map((c) => c.usage.replace(/^/gm, '  ')),
  '',
  'Environment: KAFKA_BROKERS (an existing cluster), THREATRELAY_CONFIG, LOG_LEVEL.',
].join('\n');
