import { createLogger } from '../../platform/logger';
import { readDeadLetters, type DeadLetterEntry } from '../../subscriber/dlq/read';
import { replayDeadLetters } from '../../subscriber/dlq/replay';
import { command, fail } from '../context';
import { printable } from '../printable';

/** One dead letter per line. Its fields come from record headers nobody signed: escaped for the terminal. */
export function deadLetterLine(e: DeadLetterEntry): string {
  const source = `${printable(e.source.topic)}/${e.source.partition}@${printable(e.source.offset)}`;
  return `${printable(e.at)}  ${printable(e.code).padEnd(28)} ${source}  event ${printable(e.eventId ?? '-')}  ${printable(e.reason)}`;
}

export const dlq = command({
  name: 'dlq',
  usage: 'dlq list|replay SUB --config FILE [--since ISO] [--until ISO]   dead letters of a subscription',
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
      },
      logger,
    );
    console.log(
      `replayed ${r.selected}: ${r.delivered} delivered, ${r.deadLettered} dead-lettered again, ${r.skipped} filtered out`,
    );
    if (r.deadLettered > 0) process.exitCode = 1;
  },
});
