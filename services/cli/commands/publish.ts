import { command, fail } from '../context';
import { checkBatchSize, checkFormat, exitCodeOf, publishFile, summarize } from '../publish';

export const publish = command({
  name: 'publish',
  usage: `publish FILE [--url URL] [--api-key KEY] [--batch-size N] [--format json|ndjson|csv|stix]
                          publish a file of indicators through a producer (URL default
                          $THREATRELAY_URL or http://127.0.0.1:8081; key default $THREATRELAY_API_KEY);
                          exit 0 all accepted, 1 some rejected or failed, 2 usage error`,
  async run({ values, args }) {
    const file = args[0] ?? fail('usage: threatrelay publish FILE [--url URL] [--api-key KEY]');
    const format = checkFormat(values.format);
    const batchSize = checkBatchSize(Number(values['batch-size']));
    const apiKey = values['api-key'] ?? fail('--api-key KEY (or THREATRELAY_API_KEY) is required');
    // A usage problem found while publishing (an unreadable file, a refused key) is a TR_USAGE error: exit 2.
    const result = await publishFile({ file, url: values.url!, apiKey, batchSize, format });
    console.log(summarize(result));
    process.exitCode = exitCodeOf(result);
  },
});
