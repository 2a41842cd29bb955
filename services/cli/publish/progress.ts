import type { Writable } from 'node:stream';
import { SingleBar } from 'cli-progress';

export type ProgressMode = 'auto' | 'bar' | 'lines' | 'none';
export type ProgressStream = Writable & { isTTY?: boolean };

export interface Progress {
  advance(records: number): void;
  stop(): void;
}

type Counts = () => { accepted: number; rejected: number };

function progressBar(stderr: ProgressStream, total: number, counts: Counts): Progress {
  let done = 0;
  const bar = new SingleBar({
    stream: stderr as unknown as NodeJS.WritableStream,
    format:
      'publishing |{bar}| {value}/{total} records | {accepted} accepted, {rejected} rejected | {eta_formatted}',
    hideCursor: true,
  });
  bar.start(total, 0, counts());
  return {
    advance(n) {
      done += n;
      bar.update(done, counts());
    },
    stop: () => bar.stop(),
  };
}

/** A log, not a terminal: a line every tenth of the file or every 5 s, whichever comes first. */
function progressLines(stderr: ProgressStream, total: number, counts: Counts): Progress {
  let done = 0;
  let lastAt = Date.now();
  let lastDone = 0;
  return {
    advance(n) {
      done += n;
      if (done < total && done - lastDone < total / 10 && Date.now() - lastAt < 5000) return;
      const c = counts();
      stderr.write(`published ${done}/${total} records: ${c.accepted} accepted, ${c.rejected} rejected\n`);
      lastAt = Date.now();
      lastDone = done;
    },
    stop: () => undefined,
  };
}

/** `auto`: a bar when `stderr` is a TTY, otherwise a line now and then. */
export function progressReporter(
  mode: ProgressMode,
  stderr: ProgressStream,
  total: number,
  counts: Counts,
): Progress {
  if (mode === 'none') return { advance: () => undefined, stop: () => undefined };
  if (mode === 'bar' || (mode === 'auto' && stderr.isTTY === true)) return progressBar(stderr, total, counts);
  return progressLines(stderr, total, counts);
}
