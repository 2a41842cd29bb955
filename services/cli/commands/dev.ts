import { SAMPLE_FEED_EXPECTED } from '../sample-feed';
import { command } from '../context';
import {
  printBanner,
  publishSampleFeed,
  startDevNetwork,
  summarize,
  waitForDeliveries,
  writeNetworkFile,
  type DevNetwork,
} from '../dev';

/**
 * Resolves on the first SIGINT/SIGTERM. Ctrl-C in a terminal reaches this
 * process several times at once (directly, and relayed by npm and tsx), so
 * only a signal a second or more after the first counts as "stop now" and
 * exits without waiting for the graceful shutdown.
 */
function firstSignal(print: (line: string) => void): { received: Promise<void>; dispose(): void } {
  let firstAt: number | undefined;
  let resolve = (): void => undefined;
  const received = new Promise<void>((r) => (resolve = r));
  const onSignal = (): void => {
    if (firstAt === undefined) {
      firstAt = Date.now();
      resolve();
    } else if (Date.now() - firstAt >= 1000) {
      print('Forced exit. If the broker still runs: npm run threatrelay -- kafka stop');
      process.exit(130);
    }
  };
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  return { received, dispose: () => void process.off('SIGINT', onSignal).off('SIGTERM', onSignal) };
}

/** Publishes the sample feed, then prints what each subscription received of it. */
async function playSampleFeed(network: DevNetwork, print: (line: string) => void, signal: AbortSignal) {
  await publishSampleFeed(network, print, signal);
  const complete = await waitForDeliveries(network, SAMPLE_FEED_EXPECTED, 30_000, signal);
  if (signal.aborted) return;
  print(
    `\nWhat each subscription received${complete ? '' : ' within 30 s (the rest prints as it arrives)'}:`,
  );
  for (const line of summarize(network)) print(line);
  print('\nPress Ctrl-C to stop.');
}

async function runDev(basePort: number): Promise<void> {
  const print = (line: string): void => console.log(line);
  // Listening from the start: Ctrl-C during start-up must still stop the broker.
  const signal = firstSignal(print);
  const stopping = new AbortController();
  void signal.received.then(() => stopping.abort());
  try {
    let network: DevNetwork;
    try {
      network = await startDevNetwork({ basePort, print, signal: stopping.signal });
    } catch (err) {
      // Ctrl-C during start-up also interrupts kafka.sh; what started is stopped already.
      if (!stopping.signal.aborted) throw err;
      print('Stopped.');
      return;
    }
    try {
      if (!stopping.signal.aborted) {
        printBanner(network, print);
        print(
          `Everything generated (URLs, API keys, TAXII readers, the console's sign-in) is in ${writeNetworkFile(network)} (mode 0600).\n`,
        );
        playSampleFeed(network, print, stopping.signal).catch((err: unknown) => {
          if (!stopping.signal.aborted) print(`the sample feed failed: ${String(err)}`);
        });
        await signal.received;
      }
    } finally {
      print('\nStopping…');
      await network.close();
      print('Stopped.');
    }
  } finally {
    signal.dispose();
  }
}

export const dev = command({
  name: 'dev',
  usage: 'dev                       run the whole demo network locally (starts Kafka too)',
  // The first HTTP port is the receiver's; producers and subscribers take the next ones.
  run: ({ values }) => runDev(Number(values.port ?? 8080)),
});
