import { kafkaNames } from '../../contract/names';
import { createKafka } from '../../platform/kafka';
import { createLogger } from '../../platform/logger';
import { writeSwitch } from '../../subscriber/control';
import { command, fail } from '../context';
import { subscriptionStatus } from '../subscription-status';

export const subscription = command({
  name: 'subscription',
  usage: [
    'subscription enable|disable SUB --config FILE   switch a subscription (e.g. after its endpoint answered 410)',
    'subscription status SUB --config FILE [--watch SECONDS]   per partition: position, end, behind, oldest waiting, stalled since, hanging transaction (exit 1 if stalled or hanging)',
  ].join('\n'),
  async run({ values, args, needConfig }) {
    const [action, id] = args;
    if (action === 'status' && id) {
      const config = needConfig();
      if (!config.subscriptions.some((s) => s.id === id)) fail(`no subscription "${id}" in the config`);
      const watch = Number(values.watch ?? '0');
      if (!Number.isInteger(watch) || watch < 0 || watch > 3600)
        fail('--watch takes whole seconds, 0 to 3600');
      return subscriptionStatus(config, id, watch);
    }
    if (!id || (action !== 'enable' && action !== 'disable')) {
      fail(
        'usage: threatrelay subscription enable|disable SUBSCRIPTION --config FILE [--reason TEXT] | status SUBSCRIPTION --config FILE [--watch SECONDS]',
      );
    }
    const config = needConfig();
    const sub =
      config.subscriptions.find((s) => s.id === id) ?? fail(`no subscription "${id}" in the config`);
    const producer = createKafka(config.kafka, createLogger('control', 'warn')).producer();
    await producer.connect();
    try {
      await writeSwitch(producer, kafkaNames(config.kafka.topicPrefix).control(sub.org), {
        subscription: id,
        disabled: action === 'disable',
        reason: values.reason ?? `${action}d by an operator`,
        at: new Date().toISOString(),
      });
    } finally {
      await producer.disconnect();
    }
    console.log(`subscription ${id} ${action}d; running subscribers apply it within seconds`);
  },
});
