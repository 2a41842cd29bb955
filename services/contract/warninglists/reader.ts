import type { Indicator } from '../model';
import type { Warning } from './list-file';
import type { WarninglistIndex } from './matcher';
import { mergeWarnings } from './merge';

/**
 * A reader's warnings for a published indicator (a subscription's webhook, a
 * TAXII server): what its own snapshot finds, merged with what the record
 * claims (records carry `warnings` from schema v3 on; older ones decode
 * with none), so a source that leaves a warning out cannot keep it from a
 * receiver.
 */
export function readerWarnings(index: WarninglistIndex, indicator: Indicator): Warning[] {
  return mergeWarnings(indicator.warnings, index.warnings(indicator.type, indicator.value), index.versions);
}
