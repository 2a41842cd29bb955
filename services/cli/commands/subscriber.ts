import { createLogger } from '../../platform/logger';
import { startSubscriber } from '../../subscriber/service';
import { command, listenHost, runUntilSignal } from '../context';

export const subscriber = command({
  name: 'subscriber',
  usage: `subscriber                run one org's subscriptions
    --config FILE --org ID [--subscription ID ...]`,
  async run({ values, needConfig, needOrg }) {
    const org = needOrg();
    const config = needConfig({ role: 'subscriber', org });
    const running = await startSubscriber({
      config,
      org,
      subscriptions: values.subscription,
      logger: createLogger(`subscriber-${org}`),
      port: Number(values.port ?? 8090),
      host: listenHost(),
    });
    await runUntilSignal(() => running.close());
  },
});
