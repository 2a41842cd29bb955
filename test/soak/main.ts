import { parseArgs } from 'node:util';
import { formatTable } from './ledger';
import { runSoak } from './soak';

/**
 * `npm run soak [-- --count N]`: the ledger run of RELIABILITY.md. Prints
 * the table per subscription, every check, and last `soak: N passed, M
 * failed`; exits 1 when anything failed.
 */

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '100000' },
    'deadline-minutes': { type: 'string' },
    seed: { type: 'string', default: '14' },
    'receiver-down-seconds': { type: 'string', default: '60' },
    'failing-seconds': { type: 'string', default: '15' },
    keep: { type: 'boolean', default: false },
  },
});

const count = Number(values.count);
if (!Number.isInteger(count) || count < 100) {
  console.error('--count must be an integer of at least 100');
  process.exit(2);
}
// Measured on 2 shared cores: roughly 4 minutes of faults and drain, plus the publishing time.
const deadlineMinutes = Number(values['deadline-minutes'] ?? Math.ceil(8 + count / 5000));
const log = (line: string): void => {
  console.error(`[soak ${new Date().toISOString().slice(11, 19)}] ${line}`);
};

async function main(): Promise<number> {
  log(`${count} indicators, deadline ${deadlineMinutes} min, seed ${values.seed}`);
  const result = await runSoak({
    count,
    deadlineMs: deadlineMinutes * 60_000,
    seed: Number(values.seed),
    receiverDownMs: Number(values['receiver-down-seconds']) * 1000,
    failingMs: Number(values['failing-seconds']) * 1000,
    log,
    keep: values.keep,
  });
  const passed = result.checks.filter((c) => c.ok).length;
  const failed = result.checks.length - passed;
  console.log(formatTable(result.rows));
  console.log('');
  for (const c of result.checks) console.log(`${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`);
  console.log('');
  for (const [org, s] of Object.entries(result.stats)) {
    const answers = Object.entries(s.answers)
      .map(([k, v]) => `${k}×${v}`)
      .join(' ');
    console.log(`producer ${org}: ${s.requests} requests, ${s.attempts} attempts (${answers})`);
  }
  for (const exit of result.unexpectedExits) console.log(`subscriber restarted by the soak: ${exit}`);
  const { publish, drain, total } = result.seconds;
  console.log(
    `time: publish ${publish.toFixed(0)} s, drain after the faults ${drain.toFixed(0)} s, total ${total.toFixed(0)} s`,
  );
  if (failed > 0) console.log(`kept for a post-mortem: ${result.dir}`);
  console.log(`soak: ${passed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    console.log('soak: 0 passed, 1 failed');
    process.exit(1);
  },
);
