/** A progress display: a one-line bar on stderr when it is a terminal, nothing otherwise. */
export interface Progress {
  update(done: number, total: number, detail?: string): void;
  finish(): void;
}

const WIDTH = 30;

/** Pipes and logs stay clean: the bar is drawn only on a terminal, and erased when the work ends. */
export function progressBar(label: string, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!stream.isTTY) return { update: () => undefined, finish: () => undefined };
  let drawn = false;
  return {
    update(done, total, detail = '') {
      const filled = total > 0 ? Math.round((done / total) * WIDTH) : 0;
      const percent = total > 0 ? Math.floor((done / total) * 100) : 0;
      stream.write(`\r${label} [${'#'.repeat(filled)}${' '.repeat(WIDTH - filled)}] ${percent}% ${detail}`.padEnd(stream.columns ?? 80));
      drawn = true;
    },
    finish() {
      if (drawn) stream.write(`\r${' '.repeat(stream.columns ?? 80)}\r`);
    },
  };
}
