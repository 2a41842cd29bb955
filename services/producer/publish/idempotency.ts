import { ThreatRelayError } from '../../contract/errors';

export interface IdempotencyCacheOptions<T> {
  /** Most bytes the remembered answers may take, estimated by `sizeOf`; the oldest go first. */
  maxBytes: number;
  /** How long an answer is replayed. Default 24 h. */
  ttlMs?: number;
  /** The bytes one answer holds (its JSON length, say). */
  sizeOf: (result: T) => number;
  now?: () => number;
}

interface Entry<T> {
  bodyHash: string;
  result: Promise<T>;
  at: number;
  bytes: number;
}

/** What an entry costs before its answer is known: its id, the body hash and the bookkeeping. */
const ENTRY_OVERHEAD_BYTES = 256;

/**
 * Replays the answer to a request already accepted under the same
 * Idempotency-Key, so a client retry after a lost 202 writes nothing new.
 * A request still in flight is shared by its retries; a failed one is
 * forgotten, so its retry publishes. This cache is per producer instance and
 * bounded in bytes (one answer can hold a 1,000-item receipt with a record
 * per recipient, so a count says little): it saves duplicates in the common
 * case. The guarantee behind it is the eventId, which the same key always
 * derives the same way, and which subscribers deduplicate on.
 */
export class IdempotencyCache<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private bytes = 0;
  private readonly maxBytes: number;
  private readonly ttlMs: number;
  private readonly sizeOf: (result: T) => number;
  private readonly now: () => number;

  constructor(options: IdempotencyCacheOptions<T>) {
    this.maxBytes = options.maxBytes;
    this.ttlMs = options.ttlMs ?? 24 * 60 * 60 * 1000;
    this.sizeOf = options.sizeOf;
    this.now = options.now ?? Date.now;
  }

  /** Bytes the remembered answers take now, by the `sizeOf` estimate. */
  get sizeBytes(): number {
    return this.bytes;
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * Runs `work` once per (scope, key); a retry with another body is a
   * conflict. `scope` names the key's name space (the route and the org,
   * which the eventIds a key derives are scoped by).
   */
  async run(scope: string, key: string, bodyHash: string, work: () => Promise<T>): Promise<T> {
    const id = `${scope}\n${key}`;
    this.expire();
    const existing = this.entries.get(id);
    if (existing) {
      if (existing.bodyHash !== bodyHash) {
        throw new ThreatRelayError(
          'TR_IDEMPOTENCY_CONFLICT',
          `Idempotency-Key "${key}" was already used with a different body`,
          {
            details: [
              { path: '(header) Idempotency-Key', message: 'reuse a key only to retry the same request' },
            ],
          },
        );
      }
      return existing.result;
    }
    const result = work();
    const entry: Entry<T> = { bodyHash, result, at: this.now(), bytes: ENTRY_OVERHEAD_BYTES + id.length * 2 };
    this.add(id, entry);
    result.then(
      (value) => {
        if (this.entries.get(id) !== entry) return;
        const more = this.sizeOf(value);
        entry.bytes += more;
        this.bytes += more;
        this.evict();
      },
      () => {
        if (this.entries.get(id) === entry) this.remove(id);
      },
    );
    return result;
  }

  private add(id: string, entry: Entry<T>): void {
    this.entries.set(id, entry);
    this.bytes += entry.bytes;
    this.evict();
  }

  private remove(id: string): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    this.entries.delete(id);
    this.bytes -= entry.bytes;
  }

  /** Oldest first, until the answers fit; an answer larger than the whole bound is not kept at all. */
  private evict(): void {
    while (this.bytes > this.maxBytes && this.entries.size > 0)
      this.remove(this.entries.keys().next().value!);
  }

  /** Entries are in insertion order, so the expired ones are at the front. */
  private expire(): void {
    const now = this.now();
    for (const [id, entry] of this.entries) {
      if (now - entry.at < this.ttlMs) break;
      this.remove(id);
    }
  }
}
