import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel, type SASLOptions } from 'kafkajs';

/**
 * Where the tests' Kafka broker comes from, in this order:
 *   1. KAFKA_BROKERS: an existing cluster;
 *   2. a reachable Docker engine: Testcontainers (@testcontainers/kafka);
 *   3. otherwise the local KRaft broker from scripts/kafka/kafka.sh.
 * Ready means a real admin round trip answered, not an open port.
 */

const run = promisify(execFile);
export const KAFKA_SCRIPT = resolve(__dirname, '../scripts/kafka/kafka.sh');
/** confluentinc/cp-kafka 8.1 carries Apache Kafka 4.1, the nearest image the Testcontainers module drives. */
export const TESTCONTAINERS_IMAGE = process.env.THREATRELAY_KAFKA_IMAGE ?? 'confluentinc/cp-kafka:8.1.0';

export interface ProvidedBroker {
  kind: 'external' | 'testcontainers' | 'local';
  bootstrap: string;
  /** Human-readable: what runs, which version. */
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

async function dockerAvailable(): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    return true;
  } catch {
    // "Could not find a working container runtime strategy": no Docker engine here.
    return false;
  }
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
  if (await dockerAvailable()) {
    const { KafkaContainer } = await import('@testcontainers/kafka');
    const container = await new KafkaContainer(TESTCONTAINERS_IMAGE).withKraft().start();
    const bootstrap = `${container.getHost()}:${container.getMappedPort(9093)}`;
    await waitForBroker(bootstrap);
    return {
      kind: 'testcontainers',
      bootstrap,
      description: `Testcontainers ${TESTCONTAINERS_IMAGE} at ${bootstrap}`,
      stop: async () => {
        await container.stop();
      },
    };
  }
  return startLocalBroker();
}
