#!/usr/bin/env node
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startProducer } from '../producer/service';
import { isStixBundle, startDemoReceiver } from '../receiver/receiver';
import { apiKeyHash, loadConfig, type ConfigScope } from '../platform/config/config';
import { DEFAULTS } from '../contract/definitions';
import { isThreatRelayError } from '../contract/errors';
import { createLogger } from '../platform/logger';
import { formatReport, provision } from '../admin/provision';
import { generateSigningKeyPair } from '../contract/signing';
import { startSubscriber } from '../subscriber/service';
import { CLI_COMMANDS, type CliCommand } from './commands';
import { createKafka } from '../platform/kafka';
import { kafkaNames } from '../contract/names';
import { writeSwitch } from '../subscriber/control';
import { generateComposeEnv } from './compose-env';
import { runDev } from './dev';
import { readDeadLetters } from '../subscriber/dlq/read';
import { replayDeadLetters } from '../subscriber/dlq/replay';
import { defaultBrokerDir, kafkaCommand } from './local-kafka';
import { INPUT_FORMATS, UsageError, exitCodeOf, publishFile, summarize, type InputFormat } from './publish';

/** The `threatrelay` command. Each subcommand is a thin wrapper over a service's start function. */

const USAGE = `threatrelay <command> [options]

  dev                       run the whole demo network locally (starts Kafka too)
  producer                  run one org's publishing API
      --config FILE --org ID [--port N]   signing key: THREATRELAY_SIGNING_KEY (PEM) or --signing-key-file FILE
  subscriber                run one org's subscriptions
      --config FILE --org ID [--subscription ID ...]
  provision --config FILE   create the topics, SCRAM users and ACLs the config implies (idempotent)
  receiver --config FILE [--port N]   demo webhook receiver: verifies and prints each subscription's deliveries
  keys api|create --org ID [--name NAME]   print a new API key and the config entry with its hash
  keys signing              print a new Ed25519 key pair (private PEM, public base64)
  keys compose-env [--profile ha]   print a complete .env for docker-compose.yml, every key and secret fresh
  kafka start [--sasl] [--port N] | stop | status   the local Apache Kafka broker (KRaft, loopback; --sasl: SCRAM + ACLs, admin's password from KAFKA_ADMIN_PASSWORD)
  publish FILE [--url URL] [--api-key KEY] [--batch-size N] [--format json|ndjson|csv|stix]
                            publish a file of indicators through a producer (URL default
                            $THREATRELAY_URL or http://127.0.0.1:8081; key default $THREATRELAY_API_KEY);
                            exit 0 all accepted, 1 some rejected or failed, 2 usage error
  dlq list|replay SUB --config FILE [--since ISO] [--until ISO]   dead letters of a subscription
  subscription enable|disable SUB --config FILE   switch a subscription (e.g. after its endpoint answered 410)

Environment: KAFKA_BROKERS (an existing cluster), THREATRELAY_CONFIG, LOG_LEVEL.`;

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

/** Runs a long-lived service until SIGINT/SIGTERM, then closes it gracefully. */
/** How long a service may take to stop after SIGINT/SIGTERM. */
const SHUTDOWN_GRACE_MS = 30_000;

async function runUntilSignal(close: () => Promise<void>): Promise<void> {
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  // Graceful, but bounded: with Kafka gone, leaving a group can wait forever. Nothing uncommitted
  // is lost by exiting: it is read again on the next start.
  const force = setTimeout(() => {
    console.error(`shutdown did not finish within ${SHUTDOWN_GRACE_MS / 1000} s; exiting`);
    process.exit(1);
  }, SHUTDOWN_GRACE_MS);
  force.unref();
  await close();
  clearTimeout(force);
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      config: { type: 'string', default: process.env.THREATRELAY_CONFIG },
      org: { type: 'string', default: process.env.THREATRELAY_ORG },
      port: { type: 'string', default: process.env.PORT },
      name: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      reason: { type: 'string' },
      subscription: { type: 'string', multiple: true },
      profile: { type: 'string', multiple: true },
      sasl: { type: 'boolean' },
      'signing-key-file': { type: 'string', default: process.env.THREATRELAY_SIGNING_KEY_FILE },
      url: { type: 'string', default: process.env.THREATRELAY_URL ?? 'http://127.0.0.1:8081' },
      'api-key': { type: 'string', default: process.env.THREATRELAY_API_KEY },
      'batch-size': { type: 'string', default: '500' },
      format: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (!command || values.help || command === 'help') {
    console.log(USAGE);
    return;
  }
  /** The config; a service passes its scope and resolves only its own part's variables. */
  const needConfig = (scope?: ConfigScope): ReturnType<typeof loadConfig> =>
    loadConfig(
      values.config ?? fail('--config FILE (or THREATRELAY_CONFIG) is required'),
      process.env,
      scope,
    );
  const needOrg = (): string => values.org ?? fail('--org ID (or THREATRELAY_ORG) is required');

  if (!(CLI_COMMANDS as readonly string[]).includes(command))
    fail(`unknown command "${command}"\n\n${USAGE}`);
  switch (command as CliCommand) {
    case 'dev':
      await runDev({ basePort: Number(values.port ?? 8080) });
      return;
    case 'producer': {
      const org = needOrg();
      const config = needConfig({ role: 'producer', org });
      const pem = values['signing-key-file']
        ? readFileSync(values['signing-key-file'], 'utf8')
        : // .env files hold the PEM on one line with \n escapes.
          (
            process.env.THREATRELAY_SIGNING_KEY ??
            fail('THREATRELAY_SIGNING_KEY or --signing-key-file is required')
          ).replace(/\\n/g, '\n');
      const logger = createLogger(`producer-${org}`);
      const p = await startProducer({
        config,
        org,
        signingKeyPem: pem,
        port: Number(values.port ?? DEFAULTS.httpPort),
        host: process.env.HOST ?? '0.0.0.0',
        logger,
      });
      await runUntilSignal(() => p.close());
      return;
    }
    case 'subscriber': {
      const org = needOrg();
      const config = needConfig({ role: 'subscriber', org });
      const logger = createLogger(`subscriber-${org}`);
      const s = await startSubscriber({
        config,
        org,
        subscriptions: values.subscription,
        logger,
        port: Number(values.port ?? 8090),
        host: process.env.HOST ?? '0.0.0.0',
      });
      await runUntilSignal(() => s.close());
      return;
    }
    case 'dlq': {
      const [action, subscription] = positionals;
      if (!subscription || (action !== 'list' && action !== 'replay')) {
        fail('usage: threatrelay dlq list|replay SUBSCRIPTION --config FILE [--since ISO] [--until ISO]');
      }
      const config = needConfig();
      const logger = createLogger('dlq', process.env.LOG_LEVEL ?? 'warn');
      if (action === 'list') {
        const entries = await readDeadLetters(config, subscription, logger);
        for (const e of entries) {
          console.log(
            `${e.at}  ${e.code.padEnd(28)} ${e.source.topic}/${e.source.partition}@${e.source.offset}  event ${e.eventId ?? '-'}  ${e.reason}`,
          );
        }
        console.log(`${entries.length} dead letter(s) in ${subscription}`);
        return;
      }
      const r = await replayDeadLetters(
        config,
        subscription,
        {
          ...(values.since ? { since: values.since } : {}),
          ...(values.until ? { until: values.until } : {}),
        },
        logger,
      );
      console.log(
        `replayed ${r.selected}: ${r.delivered} delivered, ${r.deadLettered} dead-lettered again, ${r.skipped} filtered out`,
      );
      if (r.deadLettered > 0) process.exitCode = 1;
      return;
    }
    case 'subscription': {
      const [action, id] = positionals;
      if (!id || (action !== 'enable' && action !== 'disable')) {
        fail('usage: threatrelay subscription enable|disable SUBSCRIPTION --config FILE [--reason TEXT]');
      }
      const config = needConfig();
      const sub =
        config.subscriptions.find((s) => s.id === id) ?? fail(`no subscription "${id}" in the config`);
      const kafka = createKafka(config.kafka, createLogger('control', 'warn'));
      const producer = kafka.producer();
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
      return;
    }
    case 'receiver': {
      const config = needConfig({ role: 'receiver' });
      const secrets = Object.fromEntries(config.subscriptions.map((s) => [s.id, s.webhook.secrets[0]!]));
      const r = await startDemoReceiver({
        port: Number(values.port ?? 9000),
        host: process.env.HOST ?? '0.0.0.0',
        secrets,
        onDelivery: (d) =>
          // A native body lists its events; a STIX 2.1 one is logged whole (its indicator objects).
          console.log(
            JSON.stringify({
              subscription: d.subscription,
              webhookId: d.webhookId,
              ...(isStixBundle(d.body) ? { bundle: d.body } : { events: d.body.events }),
            }),
          ),
        onRejected: (sub, reason) => console.error(`rejected a request for ${sub}: ${reason}`),
      });
      console.error(`demo receiver listening on ${r.url}/hooks/<subscription>`);
      await runUntilSignal(() => r.close());
      return;
    }
    case 'provision': {
      const config = needConfig();
      const kafka = createKafka(config.kafka, createLogger('provision', process.env.LOG_LEVEL ?? 'warn'));
      const admin = kafka.admin();
      await admin.connect();
      try {
        console.log(formatReport(await provision(kafka, admin, config)));
      } finally {
        await admin.disconnect();
      }
      return;
    }
    case 'keys': {
      const kind = positionals[0];
      // `create` is what people type first; `api` is what the docs said before.
      if (kind === 'api' || kind === 'create') {
        const org = needOrg();
        const key = `trk_${org}_${randomBytes(24).toString('base64url')}`;
        const name = values.name ?? `${org}-secops`;
        console.log(`API key (give it to the team; it is not stored anywhere):\n  ${key}\n`);
        console.log(
          `config entry (apiKeys):\n  - name: ${name}\n    org: ${org}\n    sha256: ${apiKeyHash(key)}\n    scopes: [publish, revoke]`,
        );
        return;
      }
      if (kind === 'signing') {
        const pair = generateSigningKeyPair();
        console.log(`private key (keep it with the org's producer only):\n${pair.privateKeyPem}`);
        console.log(`public key (orgs[].publicKey in the config):\n  ${pair.publicKey}`);
        return;
      }
      if (kind === 'compose-env') {
        // Secrets: meant for `(umask 077; threatrelay keys compose-env > .env)`.
        process.stdout.write(generateComposeEnv({ profiles: values.profile ?? [] }).text);
        return;
      }
      fail('usage: threatrelay keys api|create --org ID | keys signing | keys compose-env [--profile ha]');
      return;
    }
    case 'publish': {
      const file = positionals[0] ?? fail('usage: threatrelay publish FILE [--url URL] [--api-key KEY]');
      const format = values.format as InputFormat | undefined;
      if (format !== undefined && !INPUT_FORMATS.includes(format)) {
        fail(`--format must be one of ${INPUT_FORMATS.join(', ')}`);
      }
      const batchSize = Number(values['batch-size']);
      if (!Number.isInteger(batchSize) || batchSize < 1) fail('--batch-size must be a positive integer');
      const apiKey = values['api-key'] ?? fail('--api-key KEY (or THREATRELAY_API_KEY) is required');
      try {
        const result = await publishFile({ file, url: values.url!, apiKey, batchSize, format });
        console.log(summarize(result));
        process.exitCode = exitCodeOf(result);
      } catch (err) {
        if (err instanceof UsageError) fail(err.message);
        throw err;
      }
      return;
    }
    case 'kafka': {
      const sub = positionals[0];
      if (!sub || !['start', 'stop', 'status'].includes(sub))
        fail('usage: threatrelay kafka start [--sasl] [--port N] | stop | status');
      const port = values.port ?? '9092';
      const args =
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
      if (sub === 'status') {
        // kafka.sh answers a stopped broker with exit code 1, which is an answer here, not a failure.
        const running = await kafkaCommand([sub, '--dir', defaultBrokerDir()]).catch(() => undefined);
        console.log(running ?? 'stopped');
        if (!running) process.exitCode = 1;
        return;
      }
      console.log(await kafkaCommand([sub, '--dir', defaultBrokerDir(), ...args]));
      return;
    }
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (isThreatRelayError(err)) {
    console.error(`${err.code}: ${err.message}`);
  } else {
    console.error(err);
  }
  process.exit(1);
});
