/**
 * What the subscriber offers the operator's console, which acts on
 * subscriptions without running one: the control listener (which
 * subscriptions are switched off) and dead-letter read and replay (one
 * implementation of what `dlq replay` does). Everything else under
 * subscriber/ is its own, and the linter keeps it so.
 */
export { ControlListener, type SubscriptionSwitch } from './control';
export { readDeadLetters, type DeadLetterEntry } from './dlq/read';
export { replayDeadLetters, type ReplayOptions, type ReplayResult } from './dlq/replay';
