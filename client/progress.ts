// Per-level progress bars on stderr; plain lines when stderr is not a terminal.
import type { JobView } from './coordinator-client.js';

const BAR = 30;

function bar(done: number, total: number): string {
  const frac = total > 0 ? Math.min(1, done / total) : 0;
  const full = Math.round(frac * BAR);
  return `[${'#'.repeat(full)}${'.'.repeat(BAR - full)}] ${(frac * 100).toFixed(0).padStart(3)}%`;
}

export function formatProgress(job: JobView): string[] {
  const lines = [...job.levels]
    .sort((a, b) => b.level - a.level)
    .map(
      (l) =>
        `level ${l.level} ${bar(l.tokensDone, l.tokensTotal)} windows ${l.windowsDone}/${l.windowsTotal}  ` +
        `tokens ${l.tokensDone}/${l.tokensTotal}  ${l.tokensPerSecond.toFixed(0)} tok/s`,
    );
  const decoded = job.decodedSeconds > 0 ? `  ${job.decodedSeconds.toFixed(1)} s decoded` : '';
  lines.push(`decode  ${bar(job.decodeChunksDone, job.decodeChunksTotal)} chunks ${job.decodeChunksDone}/${job.decodeChunksTotal}${decoded}  ${job.state.replace('JOB_STATE_', '')}`);
  lines.push(`overall ${bar(job.progress ?? 0, 1)}`);
  lines.push(statusLine(job));
  return lines;
}

/** Mode, priority, queue position and ETA in one line. */
export function statusLine(job: JobView): string {
  const parts = [job.mode === 'JOB_MODE_SHARDED' ? `sharded, segments ${job.segments.join(',')}` : 'exact', `priority ${job.priority}`];
  if (job.queuePosition > 0) parts.push(`queued: position ${job.queuePosition}`);
  if (job.etaSeconds !== undefined && job.etaSeconds !== null && !job.state.endsWith('SUCCEEDED')) parts.push(`ETA ${formatDuration(job.etaSeconds)}`);
  return parts.join('  ');
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

export class ProgressDisplay {
  private drawn = 0;
  private lastPlain = 0;
  constructor(private readonly out: NodeJS.WriteStream = process.stderr) {}

  update(job: JobView, final = false): void {
    const lines = formatProgress(job);
    if (this.out.isTTY) {
      if (this.drawn > 0) this.out.write(`\x1b[${this.drawn}A`);
      for (const l of lines) this.out.write(`\x1b[2K${l}\n`);
      this.drawn = lines.length;
    } else if (final || Date.now() - this.lastPlain > 2000) {
      this.lastPlain = Date.now();
      this.out.write(`${lines.join('\n')}\n`);
    }
  }
}
