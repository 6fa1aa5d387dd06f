// Pure: how long each layer's KV cache is at a window position, from the manifest's kvCache layout (what each
// attention kind still reads, as Jukebox's sampler keeps it). Graphs without a layout keep every position.
import type { KvCacheLayout } from './types.js';

/** Positions [start, end) a layer caches once positions 0 .. position-1 are processed. */
export function cacheRange(layout: KvCacheLayout | undefined, layer: number, position: number): [number, number] {
  if (!layout) return [0, position];
  const kind = layout.layers[layer];
  const bc = layout.blockCtx ?? 0;
  switch (kind) {
    case 'dense':
    case 'column':
      return [0, position];
    case 'row':
      return [Math.floor(position / bc) * bc, position];
    case 'previous-row':
      return [Math.max(0, Math.floor(position / bc) * bc - bc), position];
    case 'prime':
      return [0, Math.min(position, layout.primeKeys ?? 0)];
    case 'cross':
      return [0, 0];
  }
}

export function cacheLength(layout: KvCacheLayout | undefined, layer: number, position: number): number {
  const [start, end] = cacheRange(layout, layer, position);
  return end - start;
}
