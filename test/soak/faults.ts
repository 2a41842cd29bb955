/**
 * The soak's fault schedule: each fault starts once the run has published a
 * given fraction of its indicators (so a short and a long run meet the same
 * faults at the same points of their workload), runs concurrently with the
 * publishing and the other faults, and records what it did.
 */

export interface FaultRecord {
  name: string;
  /** Fraction of the workload accepted when it starts. */
  at: number;
  startedAt?: number;
  endedAt?: number;
  ok?: boolean;
  detail?: string;
}

export class FaultRunner {
  readonly records: FaultRecord[] = [];
  private readonly runs: (() => Promise<void>)[] = [];
  private stopped = false;

  constructor(
    private readonly progress: () => number,
    private readonly log: (line: string) => void,
  ) {}

  add(name: string, at: number, fault: () => Promise<string>): void {
    const record: FaultRecord = { name, at };
    this.records.push(record);
    this.runs.push(async () => {
      while (this.progress() < at) {
        if (this.stopped) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      record.startedAt = Date.now();
      this.log(`fault: ${name}`);
      try {
        record.detail = await fault();
        record.ok = true;
      } catch (err) {
        record.ok = false;
        record.detail = `failed: ${(err as Error).message}`;
      }
      record.endedAt = Date.now();
      this.log(`fault done: ${name}: ${record.detail}`);
    });
  }

  /** Resolves when every fault has run (or `stop()` was called before it started). */
  start(): Promise<void> {
    return Promise.all(this.runs.map((run) => run())).then(() => undefined);
  }

  /** Faults not yet started never start. */
  stop(): void {
    this.stopped = true;
  }
}
