import { createHash } from 'node:crypto';
import { ThreatRelayError } from '../../contract/errors';

/**
 * Replays the answer to a request already accepted under the same
 * Idempotency-Key, so a client retry after a lost 202 writes nothing new.
 * A request still in flight is shared by its retries; a failed one is
 * forgotten, so its retry publishes. This cache is per producer instance and
 * bounded: it saves duplicates in the common case. The guarantee behind it is
 * the eventId, which the same key always derives the same way, and which
 * subscribers deduplicate on.
 */
export class IdempotencyCache<T> {
  private readonly entries = new Map<string, { bodyHash: string; result: Promise<T>; at: number }>();

  constructor(
    private readonly maxEntries = 10_000,
    private readonly ttlMs = 24 * 60 * 60 * 1000,
    private readonly now: () => number = Date.now,
  ) {}

  static hashBody(body: unknown): string {
    return createHash('sha256')
      .update(JSON.stringify(body) ?? '')
      .digest('hex');
  }

  /** Runs `work` once per (scope, key); a retry with another body is a conflict. */
  async run(scope: string, key: string, bodyHash: string, work: () => Promise<T>): Promise<T> {
    const id = `${scope}\n${key}`;
    const existing = this.entries.get(id);
    if (existing && this.now() - existing.at < this.ttlMs) {
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
    this.entries.set(id, { bodyHash, result, at: this.now() });
    result.catch(() => {
      if (this.entries.get(id)?.result === result) this.entries.delete(id);
    });
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    return result;
  }
}
