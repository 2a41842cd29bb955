import { kafkaNames } from '../../contract/names';
import { createKafka } from '../../platform/kafka';
import { createLogger } from '../../platform/logger';
import { writeSwitch } from '../../subscriber/control';
import { command, fail } from '../context';

export const subscription = command({
  name: 'subscription',
  usage:
    'subscription enable|disable SUB --config FILE   switch a subscription (e.g. after its endpoint answered 410)',
  async run({ values, args, needConfig }) {
    const [action, id] = args;
    if (!id || (action !== 'enable' && action !== 'disable')) {
      fail('usage: threatrelay subscription enable|disable SUBSCRIPTION --config FILE [--reason TEXT]');
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
