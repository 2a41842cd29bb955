import type { ErrorCode } from '../../contract/errors';

/**
 * Which dead letters a replay may send again on its own. A letter that
 * failed for a delivery reason (the receiver errored, timed out, refused the
 * batch, or answered 410 before the operator re-enabled it) was a good record
 * the receiver did not take: sending it again is the point of a replay.
 * Every other letter was refused by a check (signature, identity, freshness,
 * bounds, entitlement, a store that would not hold it): replaying it by
 * default would let a member re-write another org's old signed record, wait
 * for the live check to refuse it as stale, and have an operator's "Replay
 * all" deliver it. Those are listed, and replayed only one at a time on an
 * explicit operator choice, which still runs the freshness and dedup checks.
 * The list is of what may pass, so a code added later is held until it is
 * put here.
 */
export const DELIVERY_FAILURES: readonly ErrorCode[] = [
  'TR_DELIVERY_RETRYABLE',
  'TR_DELIVERY_REJECTED',
  'TR_DELIVERY_GONE',
];

export type ReplayClass = 'delivery' | 'trust';

export function replayClassOf(code: string): ReplayClass {
  return (DELIVERY_FAILURES as readonly string[]).includes(code) ? 'delivery' : 'trust';
}
