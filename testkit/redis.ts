import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './broker-provider';

/**
 * A throwaway redis-server per test file: loopback only, nothing persisted,
 * its own port and directory, so test files never see each other's keys and
 * nothing outlives the run. `npm run test:setup` installs the binary
 * (scripts/redis/ensure-redis.sh).
 */

export interface RedisServer {
  url: string;
  port: number;
  /** The redis-server process. */
  pid: number | undefined;
  /** A client closed by `stop()`. */
  client(): Redis;
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

export interface StartRedisOptions {
  /** The server binary; default `redis-server` from PATH. */
  binary?: string;
  /**
   * `requirepass`: clients must AUTH with it. Given to the server on stdin (`redis-server -`), as
   * docker-compose.yml's redis service does, never on its command line.
   */
  password?: string;
  /** A fixed port, e.g. to start a server again where a stopped one was; default a free one. */
  port?: number;
  /**
   * Persist to this folder with an append-only file fsynced on every write, as docs/operating.md asks of a
   * dedup store's Redis; a server started again on the same folder has every key. The caller owns
   * the folder (`stop()` leaves it). Default: a temp folder, nothing persisted, removed by `stop()`.
   */
  persistDir?: string;
}

function assertInstalled(binary: string): void {
  const probe = spawnSync(binary, ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(
      `${binary} is not installed (the dedup contract tests start a real redis-server). ` +
        'Run `npm run test:setup` or `bash scripts/redis/ensure-redis.sh`.' +
        (probe.error ? ` (${probe.error.message})` : ''),
    );
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** A command in RESP (any bytes in the arguments, unlike an inline command). */
const resp = (...args: string[]): string =>
  `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;

/**
 * One PING (after an AUTH when the server has a password) over a raw socket. Not ioredis: a client
 * whose connection was refused leaves a disconnect timer behind that keeps jest from exiting.
 */
function ping(port: number, password?: string): Promise<boolean> {
  const replies = password === undefined ? 1 : 2;
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    socket.setTimeout(1000, () => socket.destroy());
    socket.on('connect', () =>
      socket.write(`${password === undefined ? '' : resp('AUTH', password)}${resp('PING')}`),
    );
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString();
      if (reply.split('\r\n').length > replies) socket.end();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(reply.split('\r\n')[replies - 1]?.startsWith('+PONG') === true));
  });
}

/** Ready means a PING round trip answered, not an open port. */
async function waitReady(
  port: number,
  password: string | undefined,
  child: ChildProcess,
  output: () => string,
): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!(await ping(port, password))) {
    if (child.exitCode !== null) {
      throw new Error(`redis-server exited with ${child.exitCode} before answering:\n${output()}`);
    }
    if (Date.now() > deadline) {
      throw new Error(
        `redis-server on 127.0.0.1:${port} did not answer PING in ${READY_TIMEOUT_MS} ms:\n${output()}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function startOnce(
  binary: string,
  password: string | undefined,
  fixedPort?: number,
  persistDir?: string,
): Promise<RedisServer> {
  const port = fixedPort ?? (await freePort());
  const dir = persistDir ?? mkdtempSync(join(tmpdir(), 'threatrelay-redis-'));
  const persistence =
    persistDir === undefined ? ['--appendonly', 'no'] : ['--appendonly', 'yes', '--appendfsync', 'always'];
  const child = spawn(
    binary,
    [
      ...(password === undefined ? [] : ['-']),
      ...['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence, '--dir', dir],
    ],
    { stdio: [password === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] },
  );
  child.stdin?.on('error', () => undefined);
  child.stdin?.end(password === undefined ? undefined : `requirepass ${password}\n`);
  let log = '';
  const keep = (chunk: Buffer): void => {
    log = (log + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  // A test file that never calls stop() (a failing beforeAll, a forgotten afterAll) must not leave a
  // server behind: unref'd, the server cannot keep jest from exiting, and exiting kills it.
  child.unref();
  // stdio pipes are sockets, which the Readable type does not say.
  (child.stdout as Socket | null)?.unref();
  (child.stderr as Socket | null)?.unref();
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);

  const clients: Redis[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())));
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited(child);
      clearTimeout(timer);
    }
    process.removeListener('exit', killOnExit);
    if (persistDir === undefined) rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitReady(port, password, child, () => log);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid: child.pid,
    client() {
      const c = new Redis({ host: '127.0.0.1', port, ...(password === undefined ? {} : { password }) });
      clients.push(c);
      return c;
    },
    stop,
  };
}

/** Starts a redis-server on a free loopback port; retries when another process took the port first. */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  const binary = options.binary ?? 'redis-server';
  assertInstalled(binary);
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(binary, options.password, options.port, options.persistDir);
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}
