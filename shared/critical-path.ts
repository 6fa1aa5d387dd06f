// The window DAG of a planned song and its critical path. A window depends on the previous window of its segment
// (its context) and on the upper-level windows that produce the upper tokens it is conditioned on. With a cost per
// window, the longest path from a window to the end of the song (its "tail") is what list scheduling orders by,
// and the longest path overall bounds any schedule from below, as does total work over the number of workers.
import type { LevelManifest, SongPlan, WindowPlan } from './types.js';

export interface WindowNode {
  level: number;
  /** Index into plan.levels[level].windows. */
  flat: number;
  window: WindowPlan;
  cost: number;
  /** Node ids this window waits for. */
  deps: number[];
}

export interface PlanAnalysis {
  nodes: WindowNode[];
  /** First node id of each level (index = level). */
  levelOffset: number[];
  /** Earliest start and finish of every node with unlimited workers. */
  head: Float64Array;
  finish: Float64Array;
  /** Longest path from a node's start to the end of the song, its own cost included. */
  tail: Float64Array;
  /** Length of the longest path. */
  criticalPath: number;
  /** Sum of costs per level (index = level) and in all. */
  levelWork: number[];
  work: number;
  /** Earliest start of each level's first window (index = level). */
  levelEarliestStart: number[];
}

/**
 * A per-token step cost per level, relative: the weights one step reads (layers × width²). Coarse, but it orders
 * the levels the way measured step times do (tiny: the top 5× a bottom step; Jukebox: the top 6×).
 */
export function relativeStepCost(level: Pick<LevelManifest, 'layers' | 'width'>): number {
  return (level.layers * level.width * level.width) / 1e6;
}

/**
 * Builds the DAG of `plan` with a window cost of stepCost[level] × newTokens + windowOverhead, and its longest
 * paths. Linear in windows plus upper-span lookups.
 */
export function analysePlan(plan: SongPlan, stepCost: readonly number[], windowOverhead = 0): PlanAnalysis {
  const levelOffset: number[] = [];
  const nodes: WindowNode[] = [];
  for (const lp of plan.levels) {
    levelOffset[lp.level] = nodes.length;
    lp.windows.forEach((window, flat) => nodes.push({ level: lp.level, flat, window, cost: stepCost[lp.level] * window.newTokens + windowOverhead, deps: [] }));
  }
  // producer[level][p]: the node that samples the kept token p of the level.
  const producer = plan.levels.map((lp) => {
    const ids = new Int32Array(lp.totalTokens).fill(-1);
    lp.windows.forEach((w, flat) => {
      const seg = lp.segments[w.segment];
      const from = Math.max(w.start + w.contextTokens, seg.ownStart);
      const to = Math.min(w.end, seg.ownEnd);
      ids.fill(levelOffset[lp.level] + flat, from, Math.max(from, to));
    });
    return ids;
  });
  for (const lp of plan.levels) {
    let prevInSegment = -1;
    let segment = -1;
    lp.windows.forEach((w, flat) => {
      const id = levelOffset[lp.level] + flat;
      const deps = nodes[id].deps;
      if (w.segment === segment) deps.push(prevInSegment);
      segment = w.segment;
      prevInSegment = id;
      if (lp.level < plan.levels.length - 1) {
        const prod = producer[lp.level + 1];
        const seen = new Set<number>();
        for (let p = w.upperStart; p < w.upperEnd; ) {
          const d = prod[p];
          if (d < 0) {
            // A token no window samples was given (a primed, continued or upsample-only job): nothing to wait for.
            p++;
            continue;
          }
          seen.add(d);
          const dw = nodes[d].window;
          const seg = plan.levels[lp.level + 1].segments[dw.segment];
          p = Math.max(p + 1, Math.min(dw.end, seg.ownEnd));
        }
        deps.push(...seen);
      }
    });
  }
  const n = nodes.length;
  const head = new Float64Array(n);
  const finish = new Float64Array(n);
  // Upper levels come later in `nodes` but earlier in time: visit levels top-down, windows in order.
  const order: number[] = [];
  for (let l = plan.levels.length - 1; l >= 0; l--) for (let f = 0; f < plan.levels[l].windows.length; f++) order.push(levelOffset[l] + f);
  for (const id of order) {
    let start = 0;
    for (const d of nodes[id].deps) start = Math.max(start, finish[d]);
    head[id] = start;
    finish[id] = start + nodes[id].cost;
  }
  const succ: number[][] = nodes.map(() => []);
  nodes.forEach((node, id) => node.deps.forEach((d) => succ[d].push(id)));
  const tail = new Float64Array(n);
  for (let i = order.length - 1; i >= 0; i--) {
    const id = order[i];
    let after = 0;
    for (const s of succ[id]) after = Math.max(after, tail[s]);
    tail[id] = nodes[id].cost + after;
  }
  const levelWork = plan.levels.map((lp) => {
    let w = 0;
    for (let f = 0; f < lp.windows.length; f++) w += nodes[levelOffset[lp.level] + f].cost;
    return w;
  });
  return {
    nodes,
    levelOffset,
    head,
    finish,
    tail,
    criticalPath: finish.reduce((m, x) => Math.max(m, x), 0),
    levelWork,
    work: levelWork.reduce((a, b) => a + b, 0),
    levelEarliestStart: plan.levels.map((lp) => {
      let e = Infinity;
      for (let f = 0; f < lp.windows.length; f++) e = Math.min(e, head[levelOffset[lp.level] + f]);
      return e;
    }),
  };
}

export interface ScheduleBounds {
  criticalPath: number;
  workOverWorkers: number;
  /** max(critical path, work / W). */
  simple: number;
  /**
   * Also: no window of level L or below starts before level L's first window can, so the makespan is at least
   * that time plus the work of levels ≤ L over W, for every L.
   */
  tight: number;
}

export function scheduleBounds(analysis: PlanAnalysis, workers: number): ScheduleBounds {
  const workOverWorkers = analysis.work / workers;
  const simple = Math.max(analysis.criticalPath, workOverWorkers);
  let tight = simple;
  let below = 0;
  analysis.levelWork.forEach((w, l) => {
    below += w;
    tight = Math.max(tight, analysis.levelEarliestStart[l] + below / workers);
  });
  return { criticalPath: analysis.criticalPath, workOverWorkers, simple, tight };
}
