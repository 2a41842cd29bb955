import { createLogger } from '../../platform/logger';
import { replayClassOf } from '../../subscriber/dlq/policy';
import { letterId, readDeadLetters, type DeadLetterEntry } from '../../subscriber/dlq/read';
import { replayDeadLetters } from '../../subscriber/dlq/replay';
import { command, fail } from '../context';
import { printable } from '../printable';

/**
 * One dead letter per line: its id for `--letter`, what a replay does with it
 * (`replayable`, `held` when a check refused it, `replayed`), then why. Its
 * fields come from record headers nobody signed: escaped for the terminal.
 */
export function deadLetterLine(e: DeadLetterEntry): string {
  const source = `${printable(e.source.topic)}/${e.source.partition}@${printable(e.source.offset)}`;
  const state = e.replayed ? 'replayed' : replayClassOf(e.code) === 'delivery' ? 'replayable' : 'held';
  return `${printable(e.at)}  ${letterId(e).padEnd(8)} ${state.padEnd(10)} ${printable(e.code).padEnd(28)} ${source}  event ${printable(e.eventId ?? '-')}  ${printable(e.reason)}`;
}

export const dlq = command({
  name: 'dlq',
  usage: `dlq list|replay SUB --config FILE [--since ISO] [--until ISO]   dead letters of a subscription;
    replay sends delivery failures again, each once
  dlq replay SUB --letter PARTITION:OFFSET [--force-trust-failure]   one letter; one a check refused
    only with --force-trust-failure, and freshness and dedup still run`,
  async run({ values, args, needConfig }) {
    const [action, subscription] = args;
    if (!subscription || (action !== 'list' && action !== 'replay')) {
      fail('usage: threatrelay dlq list|replay SUBSCRIPTION --config FILE [--since ISO] [--until ISO]');
    }
    const config = needConfig();
    const logger = createLogger('dlq', process.env.LOG_LEVEL ?? 'warn');
    if (action === 'list') {
      const entries = await readDeadLetters(config, subscription, logger);
      for (const e of entries) console.log(deadLetterLine(e));
      console.log(`${entries.length} dead letter(s) in ${subscription}`);
      return;
    }
    const r = await replayDeadLetters(
      config,
      subscription,
      {
        ...(values.since ? { since: values.since } : {}),
        ...(values.until ? { until: values.until } : {}),
        ...(values.letter ? { letter: values.letter } : {}),
        ...(values['force-trust-failure'] ? { forceTrustFailure: true } : {}),
      },
      logger,
    );
    console.log(
      `replayed ${r.selected}: ${r.delivered} delivered, ${r.deadLettered} dead-lettered again, ${r.skipped} filtered out`,
    );
    if (r.held > 0) {
      console.log(
        `${r.held} refused by a check left alone: see \`dlq list\`; one at a time with --letter ID --force-trust-failure`,
      );
    }
    if (r.deadLettered > 0) process.exitCode = 1;
  },
});
