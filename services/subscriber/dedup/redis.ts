import { Redis } from 'ioredis';
import { ThreatRelayError } from '../../contract/errors';
import { eventScope } from '../../contract/identity';
import { reportExpiresAt, tlpRank } from './rules';
import {
  assertStorable,
  type BatchMark,
  type DedupDecision,
  type DedupInput,
  type DedupOutcome,
  type DedupStore,
} from './types';

/**
 * The dedup store in Redis, shared by every instance of a scaled group. One
 * Lua script per `record`: Redis runs a script alone, so check-and-set is
 * atomic across instances without WATCH (which is per connection and would
 * need a connection per in-flight call).
 *
 * Keys, under the subscription's prefix:
 * - `e:<org>/<eventId>` hash {o: decision JSON, p: position, x: expiresAt}
 * - `k:<key>`     hash org → `expiresAt:tlpRank` of that org's report
 *
 * Expiry is decided by the timestamps stored in the values against the
 * caller's `now`, the same rule as the embedded store; PEXPIREAT only
 * garbage-collects what can no longer count. Redis applies PEXPIREAT by its
 * own clock, so `now` must be close to real time (tests inject times from
 * `Date.now()` onwards, never in the past). The script mirrors rules.ts.
 */

const RECORD_SCRIPT = `
local eventKey, indicatorKey = KEYS[1], KEYS[2]
local kind, org, position = ARGV[1], ARGV[2], ARGV[3]
local now = tonumber(ARGV[4])
local reportExpiresAt, eventExpiresAt = ARGV[5], ARGV[6]
local rank = tonumber(ARGV[7])

local seen = redis.call('HMGET', eventKey, 'o', 'p', 'x', 'b')
if seen[1] and tonumber(seen[3]) > now then
  if seen[2] == position then return {seen[1], 1, seen[4] or ''} end
  return {'{"kind":"duplicate"}', 0, ''}
end

-- Live sources, each "expiresAt:tlpRank"; a bare expiresAt (written before reports kept their TLP)
-- ranks as red. Expired ones are dropped here as well as by PEXPIREAT.
local flat = redis.call('HGETALL', indicatorKey)
local expiries, ranks, count = {}, {}, 0
for i = 1, #flat, 2 do
  local x, r = string.match(flat[i + 1], '^(%d+):(%d+)$')
  if not x then x, r = flat[i + 1], '4' end
  if tonumber(x) > now then
    expiries[flat[i]] = x
    ranks[flat[i]] = tonumber(r)
    count = count + 1
  else
    redis.call('HDEL', indicatorKey, flat[i])
  end
end

-- The orgs this event may name: reports no more restricted than it (rules.ts, revealedOrgs).
-- cjson encodes an empty table as {}, so the list is built by hand.
local function revealedOrgs()
  local orgs = {}
  for o in pairs(expiries) do
    if ranks[o] <= rank then orgs[#orgs + 1] = cjson.encode(o) end
  end
  table.sort(orgs)
  return '[' .. table.concat(orgs, ',') .. ']', #orgs
end

local decision
if kind == 'revoked' then
  if not expiries[org] then
    decision = '{"kind":"revocation-unknown"}'
  else
    expiries[org] = nil
    redis.call('HDEL', indicatorKey, org)
    decision = '{"kind":"revoked","remainingSources":' .. revealedOrgs() .. '}'
  end
else
  if count == 0 then
    decision = '{"kind":"new"}'
  elseif expiries[org] then
    decision = '{"kind":"republished"}'
  end
  expiries[org] = reportExpiresAt
  ranks[org] = rank
  if not decision then
    local list, revealed = revealedOrgs()
    if revealed == 1 then
      decision = '{"kind":"new"}'
    else
      decision = '{"kind":"corroborated","sources":' .. list .. '}'
    end
  end
  redis.call('HSET', indicatorKey, org, reportExpiresAt .. ':' .. rank)
end

local latest
for _, x in pairs(expiries) do
  if not latest or tonumber(x) > tonumber(latest) then latest = x end
end
if latest then redis.call('PEXPIREAT', indicatorKey, latest) else redis.call('DEL', indicatorKey) end

redis.call('DEL', eventKey)
redis.call('HSET', eventKey, 'o', decision, 'p', position, 'x', eventExpiresAt)
redis.call('PEXPIREAT', eventKey, eventExpiresAt)
return {decision, 0, ''}
`;

/** Sets the batch mark on every event hash that exists (KEYS), never creating one. */
const MARK_SCRIPT = `
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('HSET', KEYS[i], 'b', ARGV[1]) end
end
return 0
`;

interface WithRecordScript {
  dedupRecord(...args: (string | number)[]): Promise<[string, number, string]>;
  dedupMark(...args: (string | number)[]): Promise<number>;
}

export interface RedisDedupStoreOptions {
  url: string;
  /** Prefix of every key, one per subscription. */
  prefix: string;
  windowMs: number;
}

export class RedisDedupStore implements DedupStore {
  private readonly client: Redis & WithRecordScript;
  private closed = false;

  constructor(private readonly options: RedisDedupStoreOptions) {
    const client = new Redis(options.url, {
      // Fail a call after a few reconnect attempts instead of queueing it for long: the consumer then
      // retries the whole batch, and nothing is delivered without a recorded outcome.
      maxRetriesPerRequest: 3,
      // ioredis keeps a timer of this length after closing a connection that already dropped, which
      // holds a shutting-down process open while Redis is unreachable; the default is 2 s.
      disconnectTimeout: 500,
    });
    // Connection errors surface as rejected calls; without a listener ioredis also logs each one.
    client.on('error', () => undefined);
    // EVALSHA with a fallback to EVAL when the server has not seen the script (after a restart).
    client.defineCommand('dedupRecord', { numberOfKeys: 2, lua: RECORD_SCRIPT });
    client.defineCommand('dedupMark', { lua: MARK_SCRIPT });
    this.client = client as Redis & WithRecordScript;
  }

  async record(input: DedupInput, at = Date.now()): Promise<DedupOutcome> {
    if (this.closed) throw new ThreatRelayError('TR_INTERNAL', 'the dedup store is closed');
    assertStorable(input);
    const { prefix, windowMs } = this.options;
    // PEXPIREAT takes integers only.
    const now = Math.floor(at);
    const [json, repeat, mark] = await this.client.dedupRecord(
      `${prefix}e:${eventScope(input)}`,
      `${prefix}k:${input.key}`,
      input.kind,
      input.org,
      input.position,
      now,
      Math.floor(reportExpiresAt(input.validUntil, now, windowMs)),
      now + windowMs,
      tlpRank(input.tlp),
    );
    const parsed = JSON.parse(json) as DedupOutcome | DedupDecision;
    if (parsed.kind === 'duplicate') return parsed;
    const [webhookId, size] = mark.split(' ');
    return {
      ...(parsed as DedupDecision),
      repeat: repeat === 1,
      ...(webhookId && size ? { batch: { webhookId, size: Number(size) } } : {}),
    };
  }

  async markBatch(events: readonly Pick<DedupInput, 'org' | 'eventId'>[], mark: BatchMark): Promise<void> {
    if (events.length === 0) return;
    const keys = events.map((e) => `${this.options.prefix}e:${eventScope(e)}`);
    await this.client.dedupMark(keys.length, ...keys, `${mark.webhookId} ${mark.size}`);
  }

  /** Redis answered each write once it held it; how durable that is, is the server's persistence setting. */
  async durable(): Promise<void> {}

  async ping(): Promise<void> {
    await this.client.ping();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // QUIT lets replies still in flight arrive; without a connection it would wait in the offline queue.
    if (this.client.status === 'ready') await this.client.quit().catch(() => this.client.disconnect());
    else this.client.disconnect();
  }
}
