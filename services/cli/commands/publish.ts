import { command, fail } from '../context';
import { checkBatchSize, checkFormat, exitCodeOf, publishFile, summarize } from '../publish';
import { readApiKey } from '../publish/api-key';
import { isMispSource, mispExitCode, publishMisp, summarizeMisp } from '../publish/misp';

export const publish = command({
  name: 'publish',
  usage: `publish FILE [--url URL] [--api-key-file FILE|-] [--batch-size N] [--format json|ndjson|csv|stix|misp]
                          publish a file of indicators through a producer (URL default
                          $THREATRELAY_URL or http://127.0.0.1:8081); the API key from
                          $THREATRELAY_API_KEY or --api-key-file (its first line; - reads stdin),
                          never the command line; exit 0 all accepted, 1 some rejected or
                          failed, 2 usage error. --format misp: FILE is a MISP event or a
                          feed directory (manifest.json, hashes.csv checked); --recipients
                          ORG,ORG for tlp:amber+strict/red attributes, --include-non-ids`,
  async run({ values, args }) {
    const apiKey = readApiKey({
      argv: values['api-key'],
      file: values['api-key-file'],
      env: process.env.THREATRELAY_API_KEY,
    });
    const file = args[0] ?? fail('usage: threatrelay publish FILE [--url URL] [--api-key-file FILE|-]');
    if (values.format === 'misp' || (values.format === undefined && isMispSource(file))) {
      const result = await publishMisp({
        path: file,
        url: values.url!,
        apiKey,
        ...(values.recipients ? { recipients: values.recipients.split(',').map((r) => r.trim()) } : {}),
        includeNonIds: values['include-non-ids'] === true,
      });
      console.log(summarizeMisp(result));
      process.exitCode = mispExitCode(result);
      return;
    }
    if (values.recipients !== undefined || values['include-non-ids'] !== undefined) {
      fail('--recipients and --include-non-ids are options of --format misp');
    }
    const format = checkFormat(values.format);
    const batchSize = checkBatchSize(Number(values['batch-size']));
    // A usage problem found while publishing (an unreadable file, a refused key) is a TR_USAGE error: exit 2.
    const result = await publishFile({ file, url: values.url!, apiKey, batchSize, format });
    console.log(summarize(result));
    process.exitCode = exitCodeOf(result);
  },
});
