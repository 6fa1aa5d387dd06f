// Pure scheduling decisions: which windows and decode chunks of a job may run now.
import type { SongPlan, WindowPlan } from '../shared/types.js';
import type { DecodeChunk } from '../shared/decode-plan.js';

export interface LevelProgressState {
  /** Windows finished; windows of a level run strictly in order, so this is also the next window's index. */
  windowsDone: number;
  running: boolean;
  /** Tokens of this level stitched so far. */
  tokensDone: number;
}

export interface DecodeProgressState {
  done: boolean[];
  running: boolean[];
}

export type Task =
  | { kind: 'window'; level: number; window: WindowPlan }
  | { kind: 'decode'; chunk: number };

/**
 * A level-L window runs once its own previous window is done and, below the top, once the upper level's tokens
 * it is conditioned on exist: levels overlap as a wavefront. A decode chunk runs once the bottom-level tokens of
 * its input span (margins included) exist.
 *
 * Order, for when there are fewer free workers than ready tasks: the bottom level first (its chain of windows is
 * the critical path), then the upper level that is least far ahead of the level it feeds (audio samples covered),
 * so the wavefront stays even and the bottom chain never waits for upper tokens; decode chunks last.
 */
export function readyTasks(
  plan: SongPlan,
  levels: LevelProgressState[],
  chunks: DecodeChunk[],
  decode: DecodeProgressState,
): Task[] {
  const windows: { task: Task; lead: number }[] = [];
  const top = plan.levels.length - 1;
  const covered = (l: number): number => levels[l].tokensDone * plan.levels[l].hopLength;
  for (let l = 0; l <= top; l++) {
    const state = levels[l];
    const lp = plan.levels[l];
    if (state.running || state.windowsDone >= lp.windows.length) continue;
    const window = lp.windows[state.windowsDone];
    if (l < top && levels[l + 1].tokensDone < window.upperEnd) continue;
    windows.push({ task: { kind: 'window', level: l, window }, lead: l === 0 ? -Infinity : covered(l) - covered(l - 1) });
  }
  windows.sort((a, b) => a.lead - b.lead);
  const tasks = windows.map((w) => w.task);
  const bottomTokens = levels[0].tokensDone;
  for (let c = 0; c < chunks.length; c++) {
    if (!decode.done[c] && !decode.running[c] && chunks[c].inEnd <= bottomTokens) tasks.push({ kind: 'decode', chunk: c });
  }
  return tasks;
}

export function taskKey(task: Task): string {
  return task.kind === 'decode' ? `decode:${task.chunk}` : `window:${task.level}:${task.window.index}`;
}

/** True when every window of every level and every decode chunk is done. */
export function isComplete(plan: SongPlan, levels: LevelProgressState[], decode: DecodeProgressState): boolean {
  return plan.levels.every((lp, l) => levels[l].windowsDone >= lp.windows.length) && decode.done.every(Boolean);
}
