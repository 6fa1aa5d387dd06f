// Pure scheduling decisions: which windows and decode chunks of a job may run now.
import type { SongPlan, WindowPlan } from '../shared/types.js';
import type { DecodeChunk } from '../shared/decode-plan.js';

export interface SegmentProgressState {
  /** Windows finished; windows of a segment run strictly in order, so this is also the next window's index. */
  windowsDone: number;
  running: boolean;
}

export interface LevelProgressState {
  /** Index = segment. */
  segments: SegmentProgressState[];
}

export interface DecodeProgressState {
  done: boolean[];
  running: boolean[];
}

export type Task =
  | { kind: 'window'; level: number; window: WindowPlan; /** Index into the level's windows. */ flat: number }
  | { kind: 'decode'; chunk: number };

/** Whether tokens [start, end) of a level exist (the level's kept tokens, whichever segment owns them). */
export type TokensExist = (level: number, start: number, end: number) => boolean;

export function initialProgress(plan: SongPlan): LevelProgressState[] {
  return plan.levels.map((lp) => ({ segments: lp.segments.map(() => ({ windowsDone: 0, running: false })) }));
}

/**
 * A window runs once the previous window of its segment is done and, below the top, once the upper level's
 * tokens it is conditioned on exist: levels overlap as a wavefront, and segments of a level run side by side.
 * A decode chunk runs once the bottom-level tokens of its input span (margins included) exist. Windows come
 * level by level, segment by segment; the order to run them in is schedule-order's business.
 */
export function readyTasks(plan: SongPlan, levels: LevelProgressState[], exist: TokensExist, chunks: DecodeChunk[], decode: DecodeProgressState): Task[] {
  const tasks: Task[] = [];
  const top = plan.levels.length - 1;
  for (let l = 0; l <= top; l++) {
    const lp = plan.levels[l];
    let offset = 0;
    lp.segments.forEach((seg, s) => {
      const state = levels[l].segments[s];
      if (!state.running && state.windowsDone < seg.windows.length) {
        const window = seg.windows[state.windowsDone];
        if (l === top || exist(l + 1, window.upperStart, window.upperEnd)) tasks.push({ kind: 'window', level: l, window, flat: offset + state.windowsDone });
      }
      offset += seg.windows.length;
    });
  }
  for (let c = 0; c < chunks.length; c++) {
    if (!decode.done[c] && !decode.running[c] && exist(0, chunks[c].inStart, chunks[c].inEnd)) tasks.push({ kind: 'decode', chunk: c });
  }
  return tasks;
}

export function taskKey(task: Task): string {
  return task.kind === 'decode' ? `decode:${task.chunk}` : `window:${task.level}:${task.window.segment}:${task.window.index}`;
}

/** The metrics' level label of a task key (taskKey): its prior level ("0", "1", ...), or "decode". */
export function taskLevelLabel(key: string): string {
  return key.startsWith('decode:') ? 'decode' : key.split(':')[1];
}

/** True when every window of every level is done. */
export function samplingComplete(plan: SongPlan, levels: LevelProgressState[]): boolean {
  return plan.levels.every((lp, l) => lp.segments.every((seg, s) => levels[l].segments[s].windowsDone >= seg.windows.length));
}

/** True when every window of every level and every decode chunk is done. */
export function isComplete(plan: SongPlan, levels: LevelProgressState[], decode: DecodeProgressState): boolean {
  return samplingComplete(plan, levels) && decode.done.every(Boolean);
}

/** Windows done in a level, all segments together. */
export function windowsDone(level: LevelProgressState): number {
  return level.segments.reduce((n, s) => n + s.windowsDone, 0);
}

/**
 * Per level, the first token position any unfinished work still reads from memory: the context of each
 * segment's next window, the upper-level span of the level below's next windows, and (level 0) the input span
 * of decode chunks not done. Tokens before it live only in the durable store from then on. A level with nothing
 * left to read gets its total length.
 */
export function tokensNeededFrom(plan: SongPlan, levels: LevelProgressState[], chunks: DecodeChunk[], decode: DecodeProgressState): number[] {
  const need = plan.levels.map((lp) => lp.totalTokens);
  plan.levels.forEach((lp, l) => {
    lp.segments.forEach((seg, s) => {
      const next = seg.windows[levels[l].segments[s].windowsDone];
      if (!next) return;
      need[l] = Math.min(need[l], next.start);
      if (l + 1 < plan.levels.length) need[l + 1] = Math.min(need[l + 1], next.upperStart);
    });
  });
  chunks.forEach((c, i) => {
    if (!decode.done[i]) need[0] = Math.min(need[0], c.inStart);
  });
  return need;
}
