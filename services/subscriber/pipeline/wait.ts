import { setTimeout as sleep } from 'node:timers/promises';

/** How often a long wait stops to heartbeat, so the group never thinks we died. */
const HEARTBEAT_EVERY_MS = 1000;

/**
 * Waits `ms` inside a batch without losing the group: heartbeats every
 * second, and returns early (false) once `halted` says the consumer is
 * stopping or disabled.
 */
export async function waitWithHeartbeats(
  ms: number,
  heartbeat: () => Promise<void>,
  halted: () => boolean,
): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until && !halted()) {
    await sleep(Math.min(HEARTBEAT_EVERY_MS, until - Date.now()));
    await heartbeat();
  }
  return !halted();
}
