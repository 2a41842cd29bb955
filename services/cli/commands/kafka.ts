import { abortCommand, findHangingTransactions, HANGING_AFTER_MS } from '../../admin/hanging';
import { createKafka } from '../../platform/kafka';
import { createLogger } from '../../platform/logger';
import { defaultBrokerDir, kafkaCommand } from '../local-kafka';
import { command, fail } from '../context';

export const kafka = command({
  name: 'kafka',
  usage: [
    "kafka start [--sasl] [--port N] | stop | status   the local Apache Kafka broker (KRaft, loopback; --sasl: SCRAM + ACLs, admin's password from KAFKA_ADMIN_PASSWORD)",
    'kafka hanging --config FILE   partitions of the bus held by a transaction open longer than any producer keeps one (exit 1 if any)',
  ].join('\n'),
  async run({ values, args, needConfig }) {
    const sub = args[0];
    if (!sub || !['start', 'stop', 'status', 'hanging'].includes(sub))
      fail('usage: threatrelay kafka start [--sasl] [--port N] | stop | status | hanging --config FILE');
    if (sub === 'hanging') {
      const config = needConfig();
      const client = createKafka(config.kafka, createLogger('kafka', process.env.LOG_LEVEL ?? 'warn'));
      const admin = client.admin();
      await admin.connect();
      try {
        const prefix = `${config.kafka.topicPrefix}.`;
        const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix)).sort();
        console.log(`looking twice, ${HANGING_AFTER_MS / 1000} s apart, at ${topics.length} topic(s)`);
        const hanging = await findHangingTransactions(client, topics);
        for (const p of hanging) {
          console.log(
            `${p.topic}/${p.partition}: a transaction open since offset ${p.lastStable} (high watermark ${p.high}); read_committed consumers stop there`,
          );
          console.log(`  abort it: ${abortCommand(p, config.kafka.brokers.join(','))}`);
        }
        console.log(`${hanging.length} hanging transaction(s)`);
        if (hanging.length > 0) process.exitCode = 1;
      } finally {
        await admin.disconnect();
      }
      return;
    }
    if (sub === 'status') {
      // kafka.sh answers a stopped broker with exit code 1, which is an answer here, not a failure.
      const running = await kafkaCommand([sub, '--dir', defaultBrokerDir()]).catch(() => undefined);
      console.log(running ?? 'stopped');
      if (!running) process.exitCode = 1;
      return;
    }
    const port = values.port ?? '9092';
    const startArgs =
      sub === 'start'
        ? [
            '--port',
            port,
            '--controller-port',
            String(Number(port) + 1),
            // SASL/SCRAM only, ACLs enforced; the super user admin's password from KAFKA_ADMIN_PASSWORD.
            ...(values.sasl ? ['--sasl'] : []),
          ]
        : [];
    console.log(await kafkaCommand([sub, '--dir', defaultBrokerDir(), ...startArgs]));
  },
});
