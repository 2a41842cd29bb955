import { DEFAULTS } from '../../platform/config/defaults';
import { startConsole } from '../../console/service';
import { createLogger } from '../../platform/logger';
import { command, runUntilSignal } from '../context';

export const operatorConsole = command({
  name: 'console',
  usage:
    'console --config FILE [--port N]   the operator console: a web page of subscriptions, lag, dead letters, throughput',
  async run({ values, needConfig }) {
    const config = needConfig({ role: 'console' });
    const logger = createLogger('console', process.env.LOG_LEVEL ?? 'info');
    const running = await startConsole({
      config,
      logger,
      port: Number(values.port ?? DEFAULTS.consolePort),
      // Loopback unless told otherwise: the page is the operator's, behind a proxy with TLS if remote.
      host: process.env.HOST ?? '127.0.0.1',
    });
    console.error(`operator console on ${running.url}/ (HTTP Basic: an operator of console.operators)`);
    await runUntilSignal(() => running.close());
  },
});
