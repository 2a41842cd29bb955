import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startLocalBroker, type LocalBroker } from '../../testkit/broker-provider';

/** Every process's command line now, as `ps` would show it to any user. */
async function commandLines(): Promise<string[]> {
  const pids = (await readdir('/proc')).filter((p) => /^\d+$/.test(p));
  const lines = await Promise.all(
    pids.map((p) =>
      readFile(`/proc/${p}/cmdline`)
        .then((b) => b.toString('utf8').split('\0').join(' '))
        .catch(() => ''),
    ),
  );
  return lines.filter((l) => l.length > 0);
}

/**
 * `kafka.sh start --sasl` formats the data folder with the admin's SCRAM
 * credential. Kafka's StorageTool takes it as an argument; any user can read
 * a process's arguments. This starts the real SASL broker while sampling
 * every process's command line, and checks the format step was seen and
 * never showed the password, while the broker still authenticates the admin.
 */
describe('kafka.sh keeps the admin password off command lines', () => {
  let broker: LocalBroker | undefined;
  afterAll(async () => {
    await broker?.stop();
  });

  it('formats through a 0600 @argfile that is gone afterwards', async () => {
    const password = `pw-${randomBytes(12).toString('hex')}`;
    // Our own folder, so only this broker's format step counts (other brokers may start on the machine).
    const dir = mkdtempSync(join(tmpdir(), 'threatrelay-kafka-'));
    let starting = true;
    const formatSteps: string[] = [];
    let leaked: string | undefined;
    const sampler = (async () => {
      // Bounded: the start below ends within its own timeouts, and so does this loop.
      for (let i = 0; starting && i < 100_000; i++) {
        for (const line of await commandLines()) {
          if (line.includes(password)) leaked = line;
          // StorageTool runs twice: `random-uuid` (no secret), then `format`.
          const storageTool = line.includes('StorageTool') && !line.includes('random-uuid');
          if (line.includes(dir) && (storageTool || line.includes('format.args'))) formatSteps.push(line);
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    try {
      // Resolves once an admin call authenticated with SCRAM as admin: the credential got through.
      broker = await startLocalBroker({ dir, saslAdminPassword: password });
    } finally {
      starting = false;
      await sampler;
    }
    expect(leaked).toBeUndefined();
    expect(formatSteps.length).toBeGreaterThan(0);
    expect(formatSteps.every((l) => l.includes(`@${join(broker!.dir, 'format.args')}`))).toBe(true);
    expect(existsSync(join(broker.dir, 'format.args'))).toBe(false);
  });
});
