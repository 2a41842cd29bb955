import { createLogger } from '../../platform/logger';
import { startSubscriber, SubscriberStartAborted } from '../../subscriber/service';
import { command, listenHost, nextStopSignal, runUntilSignal, SHUTDOWN_GRACE_MS } from '../context';

export const subscriber = command({
  name: 'subscriber',
  usage: `subscriber                run one org's subscriptions
    --config FILE --org ID [--subscription ID ...]`,
  async run({ values, needConfig, needOrg }) {
    const org = needOrg();
    const config = needConfig({ role: 'subscriber', org });
    // Listening from now: a subscriber still waiting for Kafka stops on SIGTERM too, and exits 0.
    const stopSignal = nextStopSignal();
    const stop = new AbortController();
    void stopSignal.then(() => {
      stop.abort();
      // Bounded, like runUntilSignal's: nothing uncommitted is lost by exiting.
      setTimeout(() => process.exit(1), SHUTDOWN_GRACE_MS).unref();
    });
    let running;
    try {
      running = await startSubscriber({
        config,
        org,
        subscriptions: values.subscription,
        logger: createLogger(`subscriber-${org}`),
        port: Number(values.port ?? 8090),
        host: listenHost(),
        signal: stop.signal,
      });
    } catch (err) {
      if (err instanceof SubscriberStartAborted) return;
      throw err;
    }
    const started = running;
    await runUntilSignal(() => started.close(), stopSignal);
  },
});
