import { GroupCommit } from '../../../../services/producer/publish/group-commit';

/** The grouping logic alone; the transaction it stands for is exercised against Kafka in producer-api. */
function harness(concurrency: number, maxItems: number) {
  const sent: number[][] = [];
  const gates: (() => void)[] = [];
  let failNext = false;
  const groups = new GroupCommit<number, string>({
    concurrency,
    maxItems,
    expired: () => new Error('expired'),
    send: async (items) => {
      sent.push(items);
      await new Promise<void>((resolve) => gates.push(resolve));
      if (failNext) throw new Error('kafka down');
      return items.map((i) => `r${i}`);
    },
  });
  const openAll = async (): Promise<void> => {
    while (gates.length > 0) gates.shift()!();
    await new Promise((r) => setImmediate(r));
  };
  return { groups, sent, openAll, fail: () => (failNext = true) };
}

const later = Date.now() + 60_000;

describe('group commit', () => {
  it('sends a lone request at once, in its own transaction', async () => {
    const h = harness(1, 100);
    const done = h.groups.submit([1, 2], later);
    expect(h.sent).toEqual([[1, 2]]);
    await h.openAll();
    await expect(done).resolves.toEqual(['r1', 'r2']);
  });

  it('puts the requests that arrive while every slot is busy into the next transaction, each getting its own results', async () => {
    const h = harness(1, 100);
    const first = h.groups.submit([1], later);
    const second = h.groups.submit([2, 3], later);
    const third = h.groups.submit([4], later);
    expect(h.sent).toEqual([[1]]);
    await h.openAll();
    expect(h.sent).toEqual([[1], [2, 3, 4]]);
    await h.openAll();
    await expect(Promise.all([first, second, third])).resolves.toEqual([['r1'], ['r2', 'r3'], ['r4']]);
  });

  it('caps a group at maxItems, but never splits a request', async () => {
    const h = harness(1, 3);
    void h.groups.submit([0], later);
    const waiting = [
      h.groups.submit([1, 2], later),
      h.groups.submit([3, 4], later),
      h.groups.submit([5, 6, 7, 8], later),
    ];
    await h.openAll();
    await h.openAll();
    await h.openAll();
    await h.openAll();
    expect(h.sent).toEqual([[0], [1, 2], [3, 4], [5, 6, 7, 8]]);
    await expect(Promise.all(waiting)).resolves.toHaveLength(3);
  });

  it('fails every request of a failed group, and only those', async () => {
    const h = harness(1, 100);
    const first = h.groups.submit([0], later);
    const outcome = (p: Promise<string[]>): Promise<string> => p.then(String, (e: Error) => e.message);
    const a = outcome(h.groups.submit([1], later));
    const b = outcome(h.groups.submit([2], later));
    await h.openAll();
    h.fail();
    await h.openAll();
    expect(await Promise.all([first.then(String), a, b])).toEqual(['r0', 'kafka down', 'kafka down']);
  });

  it('does not send a request whose deadline passed while it waited', async () => {
    const h = harness(1, 100);
    void h.groups.submit([0], later);
    const stale = h.groups.submit([1], Date.now() - 1);
    const fresh = h.groups.submit([2], later);
    await h.openAll();
    await expect(stale).rejects.toThrow('expired');
    expect(h.sent).toEqual([[0], [2]]);
    await h.openAll();
    await expect(fresh).resolves.toEqual(['r2']);
  });
});
