import { readFileSync } from 'node:fs';
import { DEFAULTS } from '../../platform/config/defaults';
import { createLogger } from '../../platform/logger';
import { startProducer } from '../../producer/service';
import { command, fail, listenHost, runUntilSignal, type CliValues } from '../context';

function signingKeyPem(values: CliValues): string {
  if (values['signing-key-file']) return readFileSync(values['signing-key-file'], 'utf8');
  // .env files hold the PEM on one line with \n escapes.
  return (
    process.env.THREATRELAY_SIGNING_KEY ?? fail('THREATRELAY_SIGNING_KEY or --signing-key-file is required')
  ).replace(/\\n/g, '\n');
}

export const producer = command({
  name: 'producer',
  usage: `producer                  run one org's publishing API
    --config FILE --org ID [--port N]   signing key: THREATRELAY_SIGNING_KEY (PEM) or --signing-key-file FILE`,
  async run({ values, needConfig, needOrg }) {
    const org = needOrg();
    const config = needConfig({ role: 'producer', org });
    const pem = signingKeyPem(values);
    const running = await startProducer({
      config,
      org,
      signingKeyPem: pem,
      port: Number(values.port ?? DEFAULTS.httpPort),
      host: listenHost(),
      logger: createLogger(`producer-${org}`),
    });
    await runUntilSignal(() => running.close());
  },
});
