import { DEFAULTS } from '../../platform/config/defaults';
import { createLogger } from '../../platform/logger';
import { startTaxiiServer } from '../../taxii/service';
import { command, listenHost, runUntilSignal } from '../context';

export const taxii = command({
  name: 'taxii',
  usage: `taxii                     run one org's TAXII 2.1 server (what the org is entitled to, as STIX 2.1)
    --config FILE --org ID [--port N]   store under $THREATRELAY_DATA_DIR/taxii/ID (./data)`,
  async run({ values, needConfig, needOrg }) {
    const org = needOrg();
    const config = needConfig({ role: 'taxii', org });
    const running = await startTaxiiServer({
      config,
      org,
      logger: createLogger(`taxii-${org}`),
      port: Number(values.port ?? DEFAULTS.taxiiPort),
      host: listenHost(),
    });
    await runUntilSignal(() => running.close());
  },
});
