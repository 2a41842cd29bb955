/** The subcommands of `threatrelay`; docker-compose.yml may only run these (a test checks it). */
export const CLI_COMMANDS = [
  'dev',
  'producer',
  'subscriber',
  'provision',
  'receiver',
  'keys',
  'kafka',
  'dlq',
  'subscription',
  'publish',
  'help',
] as const;
export type CliCommand = (typeof CLI_COMMANDS)[number];
