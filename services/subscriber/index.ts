/**
 * What the subscriber offers the operator's console, which acts on
 * subscriptions without running one: the control listener (which
 * subscriptions are switched off) and dead-letter read and replay (one
 * implementation of what `dlq replay` does, and which letters it sends). Everything else under
 * subscriber/ is its own, and the linter keeps it so.
 */
export { ControlListener, type SubscriptionSwitch } from './control';
export { readDeadLetters, type DeadLetterEntry } from './dlq/read';
export { replayClassOf } from './dlq/policy';
export { replayDeadLetters, type ReplayOptions, type ReplayResult, type ReplaySummary } from './dlq/replay';
