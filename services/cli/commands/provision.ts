import { formatReport, provision as provisionNetwork } from '../../admin/provision';
import { createKafka } from '../../platform/kafka';
import { createLogger } from '../../platform/logger';
import { command } from '../context';

export const provision = command({
  name: 'provision',
  usage: 'provision --config FILE   create the topics, SCRAM users and ACLs the config implies (idempotent)',
  async run({ needConfig }) {
    const config = needConfig();
    const kafka = createKafka(config.kafka, createLogger('provision', process.env.LOG_LEVEL ?? 'warn'));
    const admin = kafka.admin();
    await admin.connect();
    try {
      console.log(formatReport(await provisionNetwork(kafka, admin, config)));
    } finally {
      await admin.disconnect();
    }
  },
});
