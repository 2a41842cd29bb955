import { Registry } from 'prom-client';
import type { PartitionStatus } from '../../../services/platform/lag';
import { ProgressMetrics } from '../../../services/platform/lag-monitor';

const status = (over: Partial<PartitionStatus> = {}): PartitionStatus => ({
  topic: 't',
  partition: 0,
  position: '5',
  end: '9',
  high: '9',
  behind: 4,
  oldestWaitingSeconds: 12,
  stalledSince: undefined,
  hanging: undefined,
  lastCommitAt: undefined,
  lastDeliveryAt: undefined,
  ...over,
});

async function lines(registry: Registry, name: string): Promise<string[]> {
  return (await registry.metrics()).split('\n').filter((l) => l.startsWith(`${name}{`));
}

describe('progress on /metrics', () => {
  it('sets behind, the oldest waiting age and 0 for a partition not stalled', async () => {
    const registry = new Registry();
    new ProgressMetrics(registry, 'subscription').report('dhs-all', [status()]);
    expect(await lines(registry, 'threatrelay_consumer_lag')).toEqual([
      'threatrelay_consumer_lag{subscription="dhs-all",topic="t",partition="0"} 4',
    ]);
    expect(await lines(registry, 'threatrelay_consumer_oldest_waiting_seconds')).toEqual([
      'threatrelay_consumer_oldest_waiting_seconds{subscription="dhs-all",topic="t",partition="0"} 12',
    ]);
    expect(await lines(registry, 'threatrelay_consumer_stalled_since_timestamp_seconds')).toEqual([
      'threatrelay_consumer_stalled_since_timestamp_seconds{subscription="dhs-all",topic="t",partition="0"} 0',
    ]);
  });

  it('gives a stall its start as Unix seconds', async () => {
    const registry = new Registry();
    new ProgressMetrics(registry, 'feed').report('fbi', [
      status({ stalledSince: '2026-12-08T00:00:00.000Z' }),
    ]);
    expect(await lines(registry, 'threatrelay_consumer_stalled_since_timestamp_seconds')).toEqual([
      `threatrelay_consumer_stalled_since_timestamp_seconds{feed="fbi",topic="t",partition="0"} ${Date.parse('2026-12-08T00:00:00Z') / 1000}`,
    ]);
  });

  it('names the transactional id of a hanging transaction, and drops the series once it ended', async () => {
    const registry = new Registry();
    const metrics = new ProgressMetrics(registry, 'subscription');
    const hanging = { startOffset: '9', since: '2026-12-08T00:00:00.000Z', transactionalId: 'tx-1' };
    metrics.report('dhs-all', [status({ hanging })]);
    expect(await lines(registry, 'threatrelay_consumer_hanging_transaction_since_timestamp_seconds')).toEqual(
      [
        `threatrelay_consumer_hanging_transaction_since_timestamp_seconds{subscription="dhs-all",topic="t",partition="0",transactional_id="tx-1"} ${Date.parse('2026-12-08T00:00:00Z') / 1000}`,
      ],
    );
    metrics.report('dhs-all', [status()]);
    expect(await lines(registry, 'threatrelay_consumer_hanging_transaction_since_timestamp_seconds')).toEqual(
      [],
    );
  });
});
