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
  type Labels,
} from './types';

/**
 * The dedup store in Redis, shared by every instance of a scaled group. One
 * Lua script per `record`: Redis runs a script alone, so check-and-set is
 * atomic across instances without WATCH (which is per connection and would
 * need a connection per in-flight call).
 *
 * Keys, under the subscription's prefix:
 * - `e:<org>/<eventId>` hash {o: decision JSON, p: position, x: expiresAt}
 * - `k:<key>`     hash org → `expiresAt:tlpRank:labels` of that org's report
 * - `o:<key>`     hash `org kind` → `counted:countedAt`: the key's sightings
 *
 * Expiry is decided by the timestamps stored in the values against the
 * caller's `now`, the same rule as the embedded store; PEXPIREAT only
 * garbage-collects what can no longer count. Redis applies PEXPIREAT by its
 * own clock, so `now` must be close to real time (tests inject times from
 * `Date.now()` onwards, never in the past). The script mirrors rules.ts.
 */

const RECORD_SCRIPT = `
local eventKey, indicatorKey, opinionKey = KEYS[1], KEYS[2], KEYS[3]
local kind, org, position = ARGV[1], ARGV[2], ARGV[3]
local now = tonumber(ARGV[4])
local reportExpiresAt, eventExpiresAt = ARGV[5], ARGV[6]
local rank = tonumber(ARGV[7])
local own = ARGV[8]
local sightingKind = ARGV[9]

local seen = redis.call('HMGET', eventKey, 'o', 'p', 'x', 'b')
if seen[1] and tonumber(seen[3]) > now then
  if seen[2] == position then return {seen[1], 1, seen[4] or ''} end
  return {'{"kind":"duplicate"}', 0, ''}
end

-- Live sources, each "expiresAt:tlpRank[:labels]"; a bare expiresAt (written before reports kept their
-- TLP) ranks as red. Labels are "category:severity:confidence:validUntil:description:tags", validUntil -1
-- for none (rules.ts, Labels). Expired ones are dropped here as well as by PEXPIREAT.
local flat = redis.call('HGETALL', indicatorKey)
local expiries, ranks, labels, count = {}, {}, {}, 0
for i = 1, #flat, 2 do
  local x, r, rest = string.match(flat[i + 1], '^(%d+):(%d+):?(.*)$')
  if not x then x, r, rest = flat[i + 1], '4', '' end
  if tonumber(x) > now then
    expiries[flat[i]] = x
    ranks[flat[i]] = tonumber(r)
    if rest ~= '' then labels[flat[i]] = rest end
    count = count + 1
  else
    redis.call('HDEL', indicatorKey, flat[i])
  end
end

local function parse(l)
  local c, s, f, v, d, t = string.match(l, '^(%d+):(%d+):(%d+):(-?%d+):(%d+):(%d+)$')
  return {c = c, s = s, f = f, v = v, d = d, t = t}
end

local function labelsJson(l)
  if not l then return 'null' end
  local p = parse(l)
  local v = p.v
  if v == '-1' then v = 'null' end
  return '{"category":' .. p.c .. ',"severity":' .. p.s .. ',"confidence":' .. p.f .. ',"validUntil":' .. v ..
    ',"description":' .. p.d .. ',"tags":' .. p.t .. '}'
end

-- rules.ts, materialChanges.
local function changes(before, after)
  local b, a, out = parse(before), parse(after), {}
  if b.c ~= a.c then out[#out + 1] = '"category"' end
  if b.s ~= a.s then out[#out + 1] = '"severity"' end
  if math.abs(tonumber(b.f) - tonumber(a.f)) >= 10 then out[#out + 1] = '"confidence"' end
  if b.v ~= a.v then out[#out + 1] = '"validUntil"' end
  if b.d ~= a.d then out[#out + 1] = '"description"' end
  if b.t ~= a.t then out[#out + 1] = '"tags"' end
  return out
end

-- rules.ts, escalates: against the other live reports, before this one joins them.
local function escalates(own)
  if own == '' then return 'false' end
  local mine, known, highest, categories = parse(own), false, -1, {}
  for o in pairs(expiries) do
    if labels[o] then
      local p = parse(labels[o])
      known = true
      categories[p.c] = true
      highest = math.max(highest, tonumber(p.s))
    end
  end
  if known and (not categories[mine.c] or tonumber(mine.s) > highest) then return 'true' end
  return 'false'
end

-- The orgs this event may name: reports no more restricted than it (rules.ts, revealedOrgs).
-- cjson encodes an empty table as {}, so the lists are built by hand.
local function revealed()
  local orgs = {}
  for o in pairs(expiries) do
    if ranks[o] <= rank then orgs[#orgs + 1] = o end
  end
  table.sort(orgs)
  return orgs
end

local function orgList(orgs)
  local out = {}
  for i, o in ipairs(orgs) do out[i] = cjson.encode(o) end
  return '[' .. table.concat(out, ',') .. ']'
end

local function reports(orgs)
  local out = {}
  for i, o in ipairs(orgs) do
    out[i] = '{"org":' .. cjson.encode(o) .. ',"tlp":' .. ranks[o] .. ',"labels":' .. labelsJson(labels[o]) .. '}'
  end
  return '[' .. table.concat(out, ',') .. ']'
end

-- rules.ts, decideSighting: one opinion hash per key, "org kind" -> "counted:countedAt".
if kind == 'sighted' then
  local decision = '{"kind":"sighting-unknown"}'
  if count > 0 then
    local field = org .. ' ' .. sightingKind
    local before = redis.call('HGET', opinionKey, field)
    if not before then
      redis.call('HSET', opinionKey, field, '1:' .. now)
    else
      local n, at = string.match(before, '^(%d+):(%d+)$')
      if now - tonumber(at) >= 3600000 then
        redis.call('HSET', opinionKey, field, (tonumber(n) + 1) .. ':' .. now)
      end
    end
    redis.call('PEXPIREAT', opinionKey, eventExpiresAt)
    local all, entries = redis.call('HGETALL', opinionKey), {}
    for i = 1, #all, 2 do
      local o, k = string.match(all[i], '^(%S+) (%S+)$')
      local n, at = string.match(all[i + 1], '^(%d+):(%d+)$')
      entries[#entries + 1] = {o = o, k = k, n = n, at = at}
    end
    table.sort(entries, function(a, b)
      if a.o == b.o then return a.k < b.k end
      return a.o < b.o
    end)
    local parts = {}
    for i, e in ipairs(entries) do
      parts[i] = '{"org":' .. cjson.encode(e.o) .. ',"kind":"' .. e.k .. '","counted":' .. e.n ..
        ',"countedAt":' .. e.at .. '}'
    end
    decision = '{"kind":"sighted","opinion":[' .. table.concat(parts, ',') .. ']}'
  end
  redis.call('DEL', eventKey)
  redis.call('HSET', eventKey, 'o', decision, 'p', position, 'x', eventExpiresAt)
  redis.call('PEXPIREAT', eventKey, eventExpiresAt)
  return {decision, 0, ''}
end

local decision
if kind == 'revoked' then
  if not expiries[org] then
    decision = '{"kind":"revocation-unknown"}'
  else
    expiries[org] = nil
    redis.call('HDEL', indicatorKey, org)
    decision = '{"kind":"revoked","remainingSources":' .. orgList(revealed()) .. '}'
  end
else
  local stored = own
  if count == 0 then
    decision = '{"kind":"new"}'
  elseif expiries[org] then
    local before = labels[org]
    if before and own ~= '' then
      local changed = changes(before, own)
      if #changed > 0 then
        decision = '{"kind":"updated","changed":[' .. table.concat(changed, ',') .. '],"previous":' ..
          labelsJson(before) .. '}'
      else
        stored = before
      end
    elseif before then
      stored = before
    end
    if not decision then decision = '{"kind":"republished"}' end
  end
  local escalation = 'false'
  if not decision then escalation = escalates(own) end
  expiries[org] = reportExpiresAt
  ranks[org] = rank
  if stored ~= '' then labels[org] = stored else labels[org] = nil end
  if not decision then
    local orgs = revealed()
    if #orgs == 1 then
      decision = '{"kind":"new"}'
    else
      decision = '{"kind":"corroborated","sources":' .. orgList(orgs) .. ',"reports":' .. reports(orgs) ..
        ',"escalates":' .. escalation .. '}'
    end
  end
  local value = reportExpiresAt .. ':' .. rank
  if stored ~= '' then value = value .. ':' .. stored end
  redis.call('HSET', indicatorKey, org, value)
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

/** Labels as the script reads them (empty for none): digits only, so the script parses them with one pattern. */
function labelsArg(l: Labels | undefined): string {
  if (!l) return '';
  return [l.category, l.severity, l.confidence, l.validUntil ?? -1, l.description, l.tags].join(':');
}

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
    client.defineCommand('dedupRecord', { numberOfKeys: 3, lua: RECORD_SCRIPT });
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
      `${prefix}o:${input.key}`,
      input.kind,
      input.org,
      input.position,
      now,
      Math.floor(reportExpiresAt(input.validUntil, now, windowMs)),
      now + windowMs,
      tlpRank(input.tlp),
      labelsArg(input.labels),
      input.sightingKind ?? '',
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
