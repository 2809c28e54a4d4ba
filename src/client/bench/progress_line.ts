/**
 * The progress of a bench run on stderr: on a terminal one line redrawn in place every
 * 200 ms, otherwise (a pipe, a log file, a test) one plain line per second, so a log shows
 * the run's pace without drowning in redraws.
 */

export const progress_limits = {
  tty_interval_ms: 200,
  plain_interval_ms: 1_000,
  bar_width_chars: 24,
} as const;

export interface ProgressOutput {
  write(text: string): void;
  /** True on a terminal: redraw in place. */
  is_tty: boolean;
}

/** What one progress line shows; `done` and `target` make the bar. */
export interface ProgressSample {
  label: string;
  done: number;
  /** undefined: no bar (a consume without --count). */
  target: number | undefined;
  elapsed_ms: number;
  /** Extra fields, already formatted (`failed 0`, `p99 1.2 ms`). */
  details: readonly string[];
}

export function formatProgress(sample: ProgressSample): string {
  const seconds = (sample.elapsed_ms / 1_000).toFixed(1);
  const rate = sample.elapsed_ms > 0 ? Math.round((sample.done * 1_000) / sample.elapsed_ms) : 0;
  const parts = [sample.label];
  if (sample.target !== undefined && sample.target > 0) {
    const fraction = Math.min(1, sample.done / sample.target);
    const filled = Math.round(fraction * progress_limits.bar_width_chars);
    parts.push(`[${'#'.repeat(filled)}${'.'.repeat(progress_limits.bar_width_chars - filled)}] ${String(Math.floor(fraction * 100)).padStart(3)}%`);
    parts.push(`${sample.done}/${sample.target}`);
  } else {
    parts.push(String(sample.done));
  }
  parts.push(`${rate} msgs/s`, ...sample.details, `${seconds} s`);
  return parts.join('  ');
}

/** Draws samples from `sample()` on a timer until `stop()`; draws nothing when `enabled` is false. */
export class ProgressLine {
  private timer: NodeJS.Timeout | undefined;
  private drawn = false;

  constructor(
    private readonly output: ProgressOutput,
    private readonly sample: () => ProgressSample,
    private readonly enabled: boolean,
  ) {}

  start(): void {
    if (!this.enabled || this.timer !== undefined) return;
    const interval_ms = this.output.is_tty ? progress_limits.tty_interval_ms : progress_limits.plain_interval_ms;
    this.timer = setInterval(() => this.draw(), interval_ms);
    this.timer.unref(); // never what keeps the process alive
  }

  /** Draws the last state once more (so a terminal shows the end) and ends the line. */
  stop(): void {
    if (this.timer === undefined) return;
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.output.is_tty) {
      this.draw();
      if (this.drawn) this.output.write('\n');
    }
  }

  private draw(): void {
    const line = formatProgress(this.sample());
    // \r and "erase to end of line" (ESC [ K): the new line overwrites the old one in place.
    this.output.write(this.output.is_tty ? `\r${line}\x1b[K` : `${line}\n`);
    this.drawn = true;
  }
}
