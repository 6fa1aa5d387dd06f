import { test } from 'node:test';
import assert from 'node:assert/strict';
import { outputPaths } from '../../client/output-paths.js';
import { formatDuration, statusLine, formatProgress } from '../../client/progress.js';
import type { JobView } from '../../client/coordinator-client.js';

test('output paths: FILE.wav for one sample, FILE-k.wav for several', () => {
  assert.deepEqual(outputPaths('out/song.wav', 1), ['out/song.wav']);
  assert.deepEqual(outputPaths('out/song.wav', 3), ['out/song-1.wav', 'out/song-2.wav', 'out/song-3.wav']);
  assert.deepEqual(outputPaths('song', 2), ['song-1.wav', 'song-2.wav']);
});

test('progress: one line per level, top first, then decoding', () => {
  const job = {
    state: 'JOB_STATE_RUNNING',
    mode: 'JOB_MODE_EXACT',
    priority: 5,
    queuePosition: 0,
    decodeChunksDone: 0,
    decodeChunksTotal: 3,
    decodedSeconds: 0,
    progress: 0.42,
    levels: [
      { level: 0, windowsDone: 1, windowsTotal: 4, tokensDone: 64, tokensTotal: 256, tokensPerSecond: 1000 },
      { level: 1, windowsDone: 2, windowsTotal: 2, tokensDone: 64, tokensTotal: 64, tokensPerSecond: 500 },
      { level: 2, windowsDone: 0, windowsTotal: 1, tokensDone: 0, tokensTotal: 16, tokensPerSecond: 0 },
    ],
  } as unknown as JobView;
  const lines = formatProgress(job);
  assert.equal(lines.length, 6);
  assert.match(lines[0], /^level 2 .*  0% windows 0\/1/);
  assert.match(lines[1], /^level 1 \[#{30}\] 100% windows 2\/2 .* 500 tok\/s/);
  assert.match(lines[2], /^level 0 .* 25% windows 1\/4  tokens 64\/256/);
  assert.match(lines[3], /^decode .* chunks 0\/3  RUNNING/);
  assert.match(lines[4], /^overall \[#{13}\.{17}\]  42%$/);
  assert.equal(lines[5], 'exact  priority 5');
  assert.match(formatProgress({ ...job, decodeChunksDone: 1, decodedSeconds: 1.25 } as JobView)[3], /chunks 1\/3  1\.3 s decoded  RUNNING/);
});

test('status line: mode and segments, queue position, ETA', () => {
  const base = { state: 'JOB_STATE_QUEUED', mode: 'JOB_MODE_SHARDED', segments: [8, 4, 1], priority: 7, queuePosition: 2 } as unknown as JobView;
  assert.equal(statusLine(base), 'sharded, segments 8,4,1  priority 7  queued: position 2');
  const running = { ...base, state: 'JOB_STATE_RUNNING', queuePosition: 0, etaSeconds: 3725 } as JobView;
  assert.equal(statusLine(running), 'sharded, segments 8,4,1  priority 7  ETA 1 h 02 min');
  assert.equal(formatDuration(59.4), '59 s');
  assert.equal(formatDuration(61), '1 min 01 s');
});
