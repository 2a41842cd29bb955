import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * `threatrelay subscriber` as a child process, so a test can kill it with
 * SIGKILL like an operator's machine losing power. One process (tsx as a
 * loader, not tsx's CLI, which would run the code in a grandchild), so the
 * signal reaches the subscriber itself.
 */

export interface SubscriberProcess {
  readonly pid: number | undefined;
  readonly child: ChildProcess;
  /** Resolves once the process has exited (at once if it already has). */
  exited(): Promise<void>;
  /** SIGKILL, and wait for the exit. */
  kill(): Promise<void>;
  /** SIGTERM (finish the batch in hand, commit, leave the group); SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

export interface SubscriberProcessOptions {
  configFile: string;
  org: string;
  /** THREATRELAY_DATA_DIR: where its embedded dedup stores live. */
  dataDir: string;
  /** Appends the process's stdout and stderr here; default: discarded. */
  logFile?: string;
  logLevel?: string;
  /** Port of /healthz, /readyz, /metrics; default 0 (any free port). */
  port?: number;
}

const ROOT = resolve(__dirname, '..');

export function spawnSubscriber(options: SubscriberProcessOptions): SubscriberProcess {
  const fd = options.logFile ? openSync(options.logFile, 'a') : undefined;
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(ROOT, 'services/cli/main.ts'),
      'subscriber',
      '--config',
      options.configFile,
      '--org',
      options.org,
      '--port',
      String(options.port ?? 0),
    ],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        LOG_LEVEL: options.logLevel ?? 'warn',
        THREATRELAY_DATA_DIR: options.dataDir,
      },
      stdio: ['ignore', fd ?? 'ignore', fd ?? 'ignore'],
    },
  );
  if (fd !== undefined) closeSync(fd);
  const done = new Promise<void>((r) => child.once('exit', () => r()));
  const exited = (): Promise<void> =>
    child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : done;
  return {
    pid: child.pid,
    child,
    exited,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited();
    },
    async stop(graceMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited();
      clearTimeout(timer);
    },
  };
}
