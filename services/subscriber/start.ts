import { ThreatRelayError } from '../contract/errors';
import { backoffDelay, pause, type Backoff } from '../platform/backoff';
import type { Logger } from '../platform/logger';

/** The start was called off (`signal` aborted) while Kafka was still unreachable. */
export class SubscriberStartAborted extends Error {
  constructor() {
    super('the subscriber was stopped before Kafka was reachable');
    this.name = 'SubscriberStartAborted';
  }
}

/**
 * Whether a failure to start talking to Kafka is worth waiting out: anything
 * but what no wait can fix (this bus's own config errors, credentials the
 * broker refuses, ACLs that refuse the user).
 */
export function isFatalAtStart(err: unknown): boolean {
  for (let e = err, depth = 0; e && depth < 10; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof ThreatRelayError) return true;
    const { name, type } = e as { name?: string; type?: string };
    if (name === 'KafkaJSSASLAuthenticationError') return true;
    if (typeof type === 'string' && type.endsWith('AUTHORIZATION_FAILED')) return true;
  }
  return false;
}

/** What waiting for Kafka at start does on each attempt, and how it gives up. */
export interface KafkaWait {
  /** Everything that talks to Kafka at start. */
  connect(): Promise<void>;
  /** Undoes a failed attempt before the next. */
  undo(): Promise<void>;
  /** Closes everything: the start was called off, or failed for good. */
  closeAll(): Promise<void>;
  backoff: Backoff;
  signal?: AbortSignal | undefined;
  logger: Logger;
  /** Logged with every failed attempt. */
  brokers: string[];
  org: string;
}

/**
 * kafkajs gives up connecting after its own few retries; a subscriber
 * started before its broker (or while the broker restarts) waits for it
 * instead of exiting, with bounded exponential backoff. What no wait can fix
 * (`isFatalAtStart`) fails the start; an aborted `signal` ends the wait with
 * `SubscriberStartAborted`. Either way what was opened is closed.
 */
export async function waitForKafka(wait: KafkaWait): Promise<void> {
  const { signal, logger } = wait;
  const aborted = new Promise<'aborted'>((resolve) => {
    if (signal?.aborted) resolve('aborted');
    signal?.addEventListener('abort', () => resolve('aborted'), { once: true });
  });
  const stopWaiting = async (): Promise<never> => {
    await wait.closeAll();
    logger.info({ org: wait.org }, 'subscriber stopped while waiting for Kafka');
    throw new SubscriberStartAborted();
  };
  for (let attempt = 1; ; attempt++) {
    const delayMs = backoffDelay(wait.backoff, attempt);
    const trying = wait.connect().then(
      () => undefined,
      (err: unknown) => err ?? new Error('unknown failure'),
    );
    const failure = await Promise.race([trying, aborted]);
    if (failure === undefined) return;
    if (failure === 'aborted') {
      // The attempt under way ends by itself within kafkajs's few retries (a few seconds when the broker
      // refuses connections); waited for, within a bound, so that nothing it opens outlives the close.
      await Promise.race([trying, pause(10_000)]);
      await stopWaiting();
    }
    await wait.undo();
    if (isFatalAtStart(failure)) {
      await wait.closeAll();
      throw failure;
    }
    logger.warn(
      { err: failure, attempt, retryInMs: delayMs, brokers: wait.brokers },
      'Kafka is unreachable; trying again (not ready meanwhile)',
    );
    if (!(await pause(delayMs, signal))) await stopWaiting();
  }
}
