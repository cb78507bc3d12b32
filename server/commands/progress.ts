/**
 * A progress line redrawn in place on stderr when it is a terminal (at most every 100 ms, and whenever a
 * phase completes); silent otherwise, so pipes and logs get only the final summary.
 */
export function progressLine(stream: NodeJS.WriteStream = process.stderr) {
  const tty = stream.isTTY === true;
  let last = 0;
  let drawn = false;
  return {
    update(text: string, finished = false) {
      if (!tty) return;
      const now = Date.now();
      if (!finished && now - last < 100) return;
      last = now;
      drawn = true;
      stream.write(`\r${text}\x1b[K`);
    },
    clear() {
      if (drawn) stream.write('\r\x1b[K');
      drawn = false;
    },
  };
}

/** `[#####.....] 42% label`, or a plain count when the total is not known yet. */
export function renderBar(done: number, total: number, label: string, width = 30): string {
  if (total <= 0) return `${label} ${done}`;
  const frac = Math.min(1, done / total);
  const filled = Math.floor(frac * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.floor(frac * 100)).padStart(3)}% ${label}`;
}
