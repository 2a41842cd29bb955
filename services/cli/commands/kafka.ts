import { defaultBrokerDir, kafkaCommand } from '../local-kafka';
import { command, fail } from '../context';

export const kafka = command({
  name: 'kafka',
  usage:
    "kafka start [--sasl] [--port N] | stop | status   the local Apache Kafka broker (KRaft, loopback; --sasl: SCRAM + ACLs, admin's password from KAFKA_ADMIN_PASSWORD)",
  async run({ values, args }) {
    const sub = args[0];
    if (!sub || !['start', 'stop', 'status'].includes(sub))
      fail('usage: threatrelay kafka start [--sasl] [--port N] | stop | status');
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
