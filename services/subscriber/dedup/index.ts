import { EmbeddedDedupStore } from './embedded';
import { windowMs, type DedupStoreOptions } from './options';
import { RedisDedupStore } from './redis';
import type { DedupStore } from './types';

export type { DedupStoreOptions } from './options';
export type { BatchMark, DedupDecision, DedupInput, DedupOutcome, DedupStore } from './types';
export { EmbeddedDedupStore } from './embedded';
export { RedisDedupStore } from './redis';

/** Opens the subscription's dedup store; `windowDays` defaults to 30. */
export function createDedupStore(options: DedupStoreOptions): DedupStore {
  if (options.kind === 'embedded') {
    return EmbeddedDedupStore.open({
      path: options.path,
      ...(options.name !== undefined ? { name: options.name } : {}),
      windowMs: windowMs(options),
    });
  }
  return new RedisDedupStore({ url: options.url, prefix: options.prefix, windowMs: windowMs(options) });
}
