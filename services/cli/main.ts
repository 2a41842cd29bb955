#!/usr/bin/env node
import { isThreatRelayError } from '../contract/errors';
import { COMMANDS, USAGE } from './commands';
import { commandContext, fail, parseCommandLine } from './context';

/** The `threatrelay` command: parses the command line, looks the command up in the table, runs it. */

async function main(argv: string[]): Promise<void> {
  const { command, values, args } = parseCommandLine(argv);
  if (!command || values.help || command === 'help') {
    console.log(USAGE);
    return;
  }
  const found = COMMANDS.find((c) => c.name === command) ?? fail(`unknown command "${command}"\n\n${USAGE}`);
  await found.run(commandContext(values, args));
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (isThreatRelayError(err, 'TR_USAGE')) {
    console.error(err.message);
    process.exit(2);
  }
  console.error(isThreatRelayError(err) ? `${err.code}: ${err.message}` : err);
  process.exit(1);
});
