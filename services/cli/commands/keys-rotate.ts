import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { isMap, isSeq, parseDocument, type Document, type YAMLMap, type YAMLSeq } from 'yaml';
import { derivedKeyId, KEY_ID } from '../../contract/keyring';
import { generateSigningKeyPair } from '../../contract/signing';
import { envReference } from '../../platform/config/config';
import { fail, type CommandContext } from '../context';

/**
 * `keys rotate` and `keys revoke`: edits an org's entry in the config file in
 * place (comments and `${VARIABLES}` kept), so what readers accept changes in
 * one reviewed file. See docs/key-rotation.md for the order of the steps.
 */

const DAY = 86_400_000;
/** How long the previous key keeps signing after a rotation, by default. */
export const DEFAULT_OVERLAP_DAYS = 7;

function orgEntry(doc: Document, org: string): YAMLMap {
  const orgs = doc.get('orgs');
  const entry = isSeq(orgs) ? orgs.items.find((o) => isMap(o) && o.get('id') === org) : undefined;
  if (!isMap(entry)) fail(`the config has no org "${org}"`);
  return entry;
}

/**
 * The org's `keys` list, turning the single `publicKey` form into it first:
 * one entry with the id readers derive (left to them when the key is a
 * `${VARIABLE}` whose value this tool does not see).
 */
function keysOf(doc: Document, entry: YAMLMap): YAMLSeq {
  const single = entry.get('publicKey');
  if (typeof single === 'string') {
    const first = envReference(single)
      ? { publicKey: single }
      : { id: derivedKeyId(single), publicKey: single };
    entry.delete('publicKey');
    entry.set('keys', doc.createNode([first]));
  }
  const keys = entry.get('keys');
  if (keys === undefined) {
    entry.set('keys', doc.createNode([]));
    return entry.get('keys') as YAMLSeq;
  }
  if (!isSeq(keys)) fail('the org\'s "keys" is not a list');
  return keys;
}

const idsIn = (keys: YAMLSeq): unknown[] => keys.items.map((k) => (isMap(k) ? k.get('id') : undefined));

export interface Rotation {
  text: string;
  keyId: string;
  notBefore: string;
  previousNotAfter: string;
}

/**
 * The config text with a new key for `org`: valid from `now`, and every key
 * of the org still open past `now + overlap` closed then. The overlap is the
 * time to give every reader the new file before the producer switches, and
 * the time the old key may still sign.
 */
export function rotateInConfig(
  text: string,
  org: string,
  publicKey: string,
  options: { now: number; overlapMs: number; keyId?: string },
): Rotation {
  const doc = parseDocument(text);
  const keys = keysOf(doc, orgEntry(doc, org));
  const keyId = options.keyId ?? derivedKeyId(publicKey);
  if (!KEY_ID.test(keyId)) fail('--key-id must be 1-64 chars of A-Z, a-z, 0-9, ., _ or -');
  if (idsIn(keys).includes(keyId)) fail(`org "${org}" already has a key "${keyId}"`);
  const notBefore = new Date(options.now).toISOString();
  const end = options.now + options.overlapMs;
  const previousNotAfter = new Date(end).toISOString();
  for (const key of keys.items) {
    if (!isMap(key) || key.has('revokedAt')) continue;
    const notAfter = key.get('notAfter');
    if (typeof notAfter !== 'string' || Date.parse(notAfter) > end) key.set('notAfter', previousNotAfter);
  }
  keys.add(doc.createNode({ id: keyId, publicKey, notBefore }));
  return { text: doc.toString(), keyId, notBefore, previousNotAfter };
}

/** The config text with `org`'s key `keyId` revoked from `at` on. */
export function revokeInConfig(text: string, org: string, keyId: string, at: number): string {
  const doc = parseDocument(text);
  const keys = keysOf(doc, orgEntry(doc, org));
  const key = keys.items.find(
    (k) => isMap(k) && (k.get('id') ?? derivedKeyId(String(k.get('publicKey')))) === keyId,
  );
  if (!isMap(key)) fail(`org "${org}" has no key "${keyId}" (ids: ${idsIn(keys).join(', ')})`);
  key.set('revokedAt', new Date(at).toISOString());
  return doc.toString();
}

/** Replaces the file in one step, so a reader never loads half a config. */
function replaceFile(path: string, text: string): void {
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, text);
  renameSync(temporary, path);
}

function readConfigText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fail(`cannot read the config file ${path}`);
  }
}

function instantOption(value: string | undefined, name: string): number {
  if (value === undefined) return Date.now();
  const at = Date.parse(value);
  if (Number.isNaN(at)) fail(`--${name} must be an ISO-8601 date-time`);
  return at;
}

export function rotate({ values, needOrg }: CommandContext): void {
  const org = needOrg();
  const configPath = values.config ?? fail('--config FILE (or THREATRELAY_CONFIG) is required');
  const overlapDays = Number(values['overlap-days'] ?? DEFAULT_OVERLAP_DAYS);
  if (!Number.isFinite(overlapDays) || overlapDays < 0)
    fail('--overlap-days must be a number of days, 0 or more');
  const pair = generateSigningKeyPair();
  const rotation = rotateInConfig(readConfigText(configPath), org, pair.publicKey, {
    now: Date.now(),
    overlapMs: overlapDays * DAY,
    ...(values['key-id'] ? { keyId: values['key-id'] } : {}),
  });
  const keyFile = values.out ?? `${org}-signing-${rotation.keyId}.pem`;
  try {
    // Readable by its owner only, and never over an existing key file.
    writeFileSync(keyFile, pair.privateKeyPem, { mode: 0o600, flag: 'wx' });
  } catch {
    fail(`cannot create ${keyFile} (it may exist already; give another with --out FILE)`);
  }
  replaceFile(configPath, rotation.text);
  console.log(
    [
      `new key ${rotation.keyId} for ${org}: private key in ${keyFile} (mode 0600), config entry added to ${configPath}`,
      `  valid from ${rotation.notBefore}; the previous key signs until ${rotation.previousNotAfter}`,
      'next: 1. give the new config to every reader (subscribers, TAXII servers, console) and restart them;',
      `      2. restart the ${org} producer with --signing-key-file ${keyFile} before ${rotation.previousNotAfter}.`,
    ].join('\n'),
  );
}

export function revoke({ values, needOrg }: CommandContext): void {
  const org = needOrg();
  const configPath = values.config ?? fail('--config FILE (or THREATRELAY_CONFIG) is required');
  const keyId = values['key-id'] ?? fail('--key-id ID is required: the key to revoke');
  const at = instantOption(values.at, 'at');
  replaceFile(configPath, revokeInConfig(readConfigText(configPath), org, keyId, at));
  console.log(
    `key ${keyId} of ${org} revoked from ${new Date(at).toISOString()} in ${configPath}; give the file to every reader and restart them`,
  );
}
