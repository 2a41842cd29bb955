import { command, fail, type CliValues } from '../context';
import { readApiKey } from '../publish/api-key';

const KINDS = ['seen', 'true_positive', 'false_positive', 'expired'];

/** The body of one sighting from the command line; the producer validates it (and names every bad field). */
export function sightingBody(values: CliValues, args: string[]): Record<string, unknown> {
  const [kind, ...what] = args;
  if (!kind || !KINDS.includes(kind))
    fail(`usage: threatrelay sight ${KINDS.join('|')} (KEY | TYPE VALUE [PLATFORM])`);
  const named =
    what.length === 1
      ? { key: what[0] }
      : what.length === 2 || what.length === 3
        ? { type: what[0], value: what[1], ...(what[2] ? { platform: what[2] } : {}) }
        : fail('name the indicator by KEY, or by TYPE VALUE [PLATFORM]');
  const count = values.count === undefined ? undefined : Number(values.count);
  if (count !== undefined && !Number.isInteger(count)) fail(`--count ${values.count} is not a whole number`);
  const optional: Record<string, unknown> = {
    count,
    where: values.where,
    note: values.note,
    tlp: values.tlp,
    firstSeen: values['first-seen'],
    lastSeen: values['last-seen'],
    recipients: values.recipient,
    to: values.to,
  };
  return {
    kind,
    ...named,
    ...Object.fromEntries(Object.entries(optional).filter(([, v]) => v !== undefined)),
  };
}

export const sight = command({
  name: 'sight',
  usage: `sight KIND (KEY | TYPE VALUE [PLATFORM]) [--to ORG]... [--count N] [--where TEXT] [--note TEXT]
        [--tlp TLP [--recipient ORG]...] [--first-seen ISO] [--last-seen ISO] [--url URL] [--api-key-file FILE|-]
                          say what this org saw of an indicator (KIND seen, true_positive,
                          false_positive or expired) through its producer (API key scope sight);
                          --to the orgs that reported it; exit 0 accepted, 1 refused, 2 usage error`,
  async run({ values, args }) {
    const apiKey = readApiKey({
      argv: values['api-key'],
      file: values['api-key-file'],
      env: process.env.THREATRELAY_API_KEY,
    });
    const body = sightingBody(values, args);
    const res = await fetch(new URL('/v1/sightings', values.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const answer = (await res.json().catch(() => ({}))) as {
      receipts?: { key: string; eventId: string }[];
      error?: { code: string; message: string; details?: { path: string; message: string }[] };
    };
    if (res.status === 202 && answer.receipts) {
      for (const r of answer.receipts) console.log(`sighted ${r.key} (event ${r.eventId})`);
      return;
    }
    const e = answer.error;
    console.error(`refused (${res.status}${e ? ` ${e.code}` : ''}): ${e?.message ?? res.statusText}`);
    for (const d of e?.details ?? []) console.error(`  ${d.path}: ${d.message}`);
    process.exitCode = 1;
  },
});
