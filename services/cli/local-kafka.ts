import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../platform/paths';

/** The `threatrelay kafka …` commands and `dev` drive scripts/kafka/kafka.sh. */

export function kafkaScript(): string {
  return join(repoRoot(), 'scripts', 'kafka', 'kafka.sh');
}

export function defaultBrokerDir(): string {
  return join(repoRoot(), '.cache', 'dev-broker');
}

/** Runs kafka.sh; its progress (stderr) goes to ours, its answer (stdout) is returned. */
export function kafkaCommand(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [kafkaScript(), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(out.trim()) : reject(new Error(`kafka.sh ${args[0]} exited with ${code}`)),
    );
  });
}
