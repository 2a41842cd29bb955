/**
 * Group commit: requests that arrive while every transaction slot is busy
 * wait together and go out as the next transaction, so under load the cost
 * of a Kafka transaction (begin, end markers, commit round trips) is shared
 * by many requests, and an idle producer still sends a lone request at once.
 * A group is all or nothing: one transaction, one outcome for every request
 * in it. A request whose deadline passed while it waited is failed without
 * being sent.
 */

export interface GroupCommitOptions<T, R> {
  /** Sends one group's items as one transaction; results in item order. */
  send(items: T[], deadline: number): Promise<R[]>;
  /** Transactions in flight at once (the transactional producer pool's size). */
  concurrency: number;
  /** Most items in one group; a single request larger than this still goes, alone. */
  maxItems: number;
  /** The error a request gets when its deadline passed before its group began. */
  expired(): Error;
  /** Observes each group sent: how many requests and items it held. */
  onGroup?(requests: number, items: number): void;
}

interface Waiting<T, R> {
  items: T[];
  deadline: number;
  resolve(results: R[]): void;
  reject(err: unknown): void;
}

export class GroupCommit<T, R> {
  private readonly queue: Waiting<T, R>[] = [];
  private inFlight = 0;

  constructor(private readonly options: GroupCommitOptions<T, R>) {}

  /** Resolves with this request's results once the transaction holding it committed. */
  submit(items: T[], deadline: number): Promise<R[]> {
    return new Promise((resolve, reject) => {
      this.queue.push({ items, deadline, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.options.concurrency && this.queue.length > 0) {
      const group = this.take();
      if (group.length === 0) return;
      this.inFlight += 1;
      void this.run(group).finally(() => {
        this.inFlight -= 1;
        this.pump();
      });
    }
  }

  private take(): Waiting<T, R>[] {
    const now = Date.now();
    const group: Waiting<T, R>[] = [];
    let items = 0;
    while (this.queue.length > 0) {
      const next = this.queue[0]!;
      if (next.deadline <= now) {
        this.queue.shift();
        next.reject(this.options.expired());
        continue;
      }
      if (group.length > 0 && items + next.items.length > this.options.maxItems) break;
      group.push(this.queue.shift()!);
      items += next.items.length;
    }
    return group;
  }

  private async run(group: Waiting<T, R>[]): Promise<void> {
    const items = group.flatMap((w) => w.items);
    this.options.onGroup?.(group.length, items.length);
    let results: R[];
    try {
      results = await this.options.send(items, Math.min(...group.map((w) => w.deadline)));
    } catch (err) {
      for (const w of group) w.reject(err);
      return;
    }
    let at = 0;
    for (const w of group) {
      w.resolve(results.slice(at, at + w.items.length));
      at += w.items.length;
    }
  }
}
