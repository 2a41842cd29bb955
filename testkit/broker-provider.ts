import { execFile } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel, type SASLOptions } from 'kafkajs';

/**
 * Where the tests' Kafka broker comes from, in this order:
 *   1. KAFKA_BROKERS: an existing cluster;
 *   2. a reachable Docker engine with an Apache Kafka image: Testcontainers
 *      runs scripts/kafka/kafka.sh in it (see startContainerBroker);
 *   3. otherwise the local KRaft broker from scripts/kafka/kafka.sh, with one
 *      line saying why Testcontainers was not used.
 * Ready means a real admin round trip answered, not an open port.
 * THREATRELAY_TEST_BROKER=local skips Testcontainers; =testcontainers makes
 * its failure an error instead of a fall-back.
 */

const run = promisify(execFile);
export const KAFKA_SCRIPT = resolve(__dirname, '../scripts/kafka/kafka.sh');
/**
 * The Kafka images Testcontainers may use, first present wins: THREATRELAY_KAFKA_IMAGE
 * if set, else Apache's official image (pulled if it can be), else the local
 * stand-in scripts/docker/images.sh builds where no registry is reachable.
 */
export const KAFKA_IMAGES = process.env.THREATRELAY_KAFKA_IMAGE
  ? [process.env.THREATRELAY_KAFKA_IMAGE]
  : ['apache/kafka:4.4.0', 'threatrelay-local/kafka:4.4.0'];

export interface ProvidedBroker {
  kind: 'external' | 'testcontainers' | 'local';
  /** Why Testcontainers was not used, when it was not (one line). */
  fallbackReason?: string;
  bootstrap: string;
  /** Human-readable, starting with the kind (external, testcontainers, local): what runs, which version. */
  description: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

/** Waits until a real admin call answers (describeCluster), or throws after `timeoutMs`. */
export async function waitForBroker(
  bootstrap: string,
  timeoutMs = 60_000,
  sasl?: SASLOptions,
): Promise<void> {
  const kafka = new Kafka({
    brokers: [bootstrap],
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
    ...(sasl ? { sasl } : {}),
  });
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    const admin = kafka.admin();
    try {
      await admin.connect();
      const cluster = await admin.describeCluster();
      if (cluster.brokers.length > 0) return;
    } catch (err) {
      lastError = err;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(
    `broker ${bootstrap} did not answer an admin call within ${timeoutMs} ms: ${String(lastError)}`,
  );
}

export interface LocalBrokerOptions {
  dir?: string;
  port?: number;
  controllerPort?: number;
  keepData?: boolean;
  /** SASL/SCRAM only, with the standard authorizer: `admin` (this password) is the one user and super user. */
  saslAdminPassword?: string;
}

/** A local KRaft broker process (scripts/kafka/kafka.sh); `restart` keeps its data, for fault tests. */
export interface LocalBroker extends ProvidedBroker {
  dir: string;
  port: number;
  controllerPort: number;
  stopProcess(): Promise<void>;
  restart(): Promise<void>;
  /** Sends a signal to the broker process: SIGSTOP freezes it, SIGKILL kills it without a clean shutdown. */
  signal(signal: NodeJS.Signals): void;
}

export async function startLocalBroker(options: LocalBrokerOptions = {}): Promise<LocalBroker> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'threatrelay-kafka-'));
  const port = options.port ?? (await freePort());
  const controllerPort = options.controllerPort ?? (await freePort());
  const args = ['--dir', dir, '--port', String(port), '--controller-port', String(controllerPort)];
  const password = options.saslAdminPassword;
  if (password) args.push('--sasl');
  const start = async (keep: boolean): Promise<void> => {
    await run('bash', [KAFKA_SCRIPT, 'start', ...args, ...(keep ? ['--keep-data'] : [])], {
      timeout: 300_000,
      env: { ...process.env, ...(password ? { KAFKA_ADMIN_PASSWORD: password } : {}) },
    });
    await waitForBroker(
      `127.0.0.1:${port}`,
      60_000,
      password ? { mechanism: 'scram-sha-512', username: 'admin', password } : undefined,
    );
  };
  await start(options.keepData ?? false);
  const { stdout: version } = await run('bash', [KAFKA_SCRIPT, 'version']);
  const stopProcess = async (): Promise<void> => {
    await run('bash', [KAFKA_SCRIPT, 'stop', '--dir', dir], { timeout: 60_000 });
  };
  return {
    kind: 'local',
    bootstrap: `127.0.0.1:${port}`,
    description: `local Apache Kafka ${version.trim()} (KRaft${password ? ', SASL/SCRAM + ACLs' : ''}) on 127.0.0.1:${port}, log ${dir}/broker.log`,
    dir,
    port,
    controllerPort,
    stopProcess,
    restart: () => start(true),
    signal(sig) {
      process.kill(Number(readFileSync(join(dir, 'broker.pid'), 'utf8').trim()), sig);
    },
    async stop() {
      await stopProcess();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Why a Testcontainers broker could not be had: the provider falls back to the local broker. */
export class NoContainerBroker extends Error {}

/**
 * A single-node KRaft broker in a container of an Apache Kafka image,
 * started with Testcontainers: scripts/kafka/kafka.sh is copied in and run
 * (`kafka.sh run`, as docker-compose.yml runs it), listening on the Docker
 * bridge and advertising the container's own bridge address, which the tests
 * reach directly: no port is published on the host. Ryuk (Testcontainers'
 * reaper) is disabled, since its image cannot be pulled where no registry is
 * reachable: stop() removes the container, and its id is appended to
 * THREATRELAY_CONTAINER_IDS (a file) when set, so CI can remove it by id
 * should the run die before its teardown.
 */
export async function startContainerBroker(): Promise<ProvidedBroker> {
  process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
  const tc = await import('testcontainers');
  let client: Awaited<ReturnType<typeof tc.getContainerRuntimeClient>>;
  try {
    client = await tc.getContainerRuntimeClient();
  } catch (err) {
    throw new NoContainerBroker(`no Docker engine (${firstLine(err)})`);
  }
  let image: string | undefined;
  const missing: string[] = [];
  for (const candidate of KAFKA_IMAGES) {
    const name = tc.ImageName.fromString(candidate);
    if (await client.image.exists(name)) {
      image = candidate;
      break;
    }
    try {
      await client.image.pull(name);
      image = candidate;
      break;
    } catch (err) {
      missing.push(`${candidate}: ${firstLine(err)}`);
    }
  }
  if (!image) {
    throw new NoContainerBroker(
      `no Kafka image in the Docker engine and none could be pulled (${missing.join('; ')}); scripts/docker/images.sh builds threatrelay-local/kafka:4.4.0`,
    );
  }
  const container = await new tc.GenericContainer(image)
    .withCopyDirectoriesToContainer([
      { source: resolve(__dirname, '../scripts/kafka'), target: '/opt/threatrelay/kafka' },
    ])
    .withEnvironment({ KAFKA_LIBS: '/opt/kafka/libs' })
    .withLabels({ 'org.threatrelay.role': 'test-broker' })
    .withEntrypoint(['bash', '-c'])
    .withCommand([
      'exec bash /opt/threatrelay/kafka/kafka.sh run --dir /tmp/kafka --listen 0.0.0.0 ' +
        '--advertise "$(hostname -i | cut -d" " -f1)" --port 9092 --controller-port 9093',
    ])
    .withWaitStrategy(tc.Wait.forLogMessage(/Kafka Server started/))
    .withStartupTimeout(180_000)
    .start();
  const id = container.getId();
  if (process.env.THREATRELAY_CONTAINER_IDS) appendFileSync(process.env.THREATRELAY_CONTAINER_IDS, `${id}\n`);
  const stop = async (): Promise<void> => {
    await container.stop({ timeout: 10_000, remove: true, removeVolumes: true });
  };
  const ip = container.getIpAddress(container.getNetworkNames()[0]!);
  const bootstrap = `${ip}:9092`;
  try {
    await waitForBroker(bootstrap, 90_000);
  } catch (err) {
    await stop().catch(() => undefined);
    throw new NoContainerBroker(`the container broker at ${bootstrap} did not answer (${firstLine(err)})`);
  }
  return {
    kind: 'testcontainers',
    bootstrap,
    description: `testcontainers, Apache Kafka 4.4.0 in a container of ${image} (id ${id.slice(0, 12)}, Ryuk off) at ${bootstrap} on the Docker bridge`,
    stop,
  };
}

const firstLine = (err: unknown): string =>
  (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 300);

export async function provideBroker(): Promise<ProvidedBroker> {
  if (process.env.KAFKA_BROKERS) {
    const bootstrap = process.env.KAFKA_BROKERS;
    await waitForBroker(bootstrap.split(',')[0]!);
    return {
      kind: 'external',
      bootstrap,
      description: `external cluster ${bootstrap}`,
      stop: async () => undefined,
    };
  }
  const wanted = process.env.THREATRELAY_TEST_BROKER;
  let reason = 'THREATRELAY_TEST_BROKER=local';
  if (wanted !== 'local') {
    try {
      return await startContainerBroker();
    } catch (err) {
      if (!(err instanceof NoContainerBroker) || wanted === 'testcontainers') throw err;
      reason = err.message;
    }
  }
  return { ...(await startLocalBroker()), fallbackReason: reason };
}
