// Main-thread side of the inference threads: a queue, one task per thread at a time.
import { Worker } from 'node:worker_threads';
import type { ExecutionProvider, Precision } from './onnx-runtime.js';
import type { FromThread, ThreadInit, ToThread } from './inference-messages.js';
import type { WindowBatch, WindowTiming } from './window-sampler.js';

export interface InferencePoolOptions {
  modelDir: string;
  levels: number[];
  decode: boolean;
  provider: ExecutionProvider;
  threads: number;
  intraOpThreads: number;
  /** Tokens per run of the fused loop graph: -1 the manifest's, 0 the step graph (one run per token). */
  samplingChunk: number;
  /** @default 'auto' (see ThreadInit) */
  precision?: Precision | 'auto';
}

export class InferenceError extends Error {
  constructor(
    message: string,
    readonly kind: string,
  ) {
    super(message);
    this.name = 'InferenceError';
  }
}

interface Pending {
  msg: ToThread;
  onTokens?: (fresh: Int32Array[], tokensDone: number) => void;
  resolve: (m: FromThread) => void;
  reject: (e: Error) => void;
}

interface Slot {
  thread: Worker;
  cancel: Int32Array;
  busy?: Pending;
}

/** Compiled (dist/worker/inference-pool.js), a thread runs the compiled inference-thread.js directly; from source, the
 * .mjs bootstrap registers tsx in the thread first (Node 20 threads ignore --import) and loads inference-thread.ts. */
const THREAD_URL = import.meta.url.endsWith('.js') ? new URL('./inference-thread.js', import.meta.url) : new URL('./inference-thread-entry.mjs', import.meta.url);

export class InferencePool {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private closing = false;
  private respawns = 0;
  provider: ExecutionProvider = 'cpu';
  /** The graph set the threads run (auto resolved by each thread alike). */
  precision: Precision = 'fp32';

  private constructor(private readonly options: InferencePoolOptions) {}

  static async start(options: InferencePoolOptions): Promise<InferencePool> {
    const pool = new InferencePool(options);
    await Promise.all(Array.from({ length: options.threads }, () => pool.spawn()));
    return pool;
  }

  get capacity(): number {
    return this.slots.length;
  }

  get running(): number {
    return this.slots.filter((s) => s.busy).length;
  }

  get queued(): number {
    return this.queue.length;
  }

  private spawn(): Promise<void> {
    const cancel = new SharedArrayBuffer(4);
    const init: ThreadInit = { ...this.options, cancel };
    const thread = new Worker(THREAD_URL, { workerData: init });
    const slot: Slot = { thread, cancel: new Int32Array(cancel) };
    return new Promise((resolve, reject) => {
      thread.on('message', (m: FromThread) => {
        if (m.type === 'ready') {
          this.provider = m.provider;
          this.precision = m.precision;
          this.slots.push(slot);
          resolve();
          this.pump();
        } else if (m.type === 'init-error') {
          reject(new Error(`inference thread failed to load the model: ${m.message}`));
          void thread.terminate();
        } else this.onMessage(slot, m);
      });
      thread.on('error', (err) => {
        reject(err);
        this.failSlot(slot, err);
      });
      thread.on('messageerror', (err) => this.failSlot(slot, err));
      thread.on('exit', (code) => {
        if (!this.closing) this.failSlot(slot, new Error(`inference thread exited with code ${code}`));
      });
    });
  }

  /** A thread died: fail its task (the coordinator retries it elsewhere) and start a replacement. */
  private failSlot(slot: Slot, err: Error): void {
    const i = this.slots.indexOf(slot);
    if (i < 0) return;
    this.slots.splice(i, 1);
    slot.busy?.reject(new InferenceError(`inference thread died: ${err.message}`, 'ThreadDied'));
    slot.busy = undefined;
    if (this.closing) return;
    this.respawns++;
    const delay = Math.min(10_000, 250 * 2 ** Math.min(this.respawns, 6));
    setTimeout(() => {
      if (this.closing) return;
      this.spawn().catch((e: Error) => {
        // Without threads nothing can run: fail what waits rather than hang it.
        if (this.slots.length === 0) for (const p of this.queue.splice(0)) p.reject(new InferenceError(e.message, 'ThreadDied'));
      });
    }, delay);
  }

  private onMessage(slot: Slot, m: FromThread): void {
    const p = slot.busy;
    if (!p || !('id' in m) || m.id !== p.msg.id) return;
    if (m.type === 'tokens') {
      p.onTokens?.(m.fresh, m.tokensDone);
      return;
    }
    slot.busy = undefined;
    if (m.type === 'error') p.reject(new InferenceError(m.message, m.name));
    else p.resolve(m);
    this.pump();
  }

  private pump(): void {
    for (const slot of this.slots) {
      if (slot.busy) continue;
      const next = this.queue.shift();
      if (!next) return;
      slot.busy = next;
      slot.thread.postMessage(next.msg);
    }
  }

  private submit(msg: ToThread, onTokens?: Pending['onTokens']): { promise: Promise<FromThread>; cancel: () => void } {
    if (this.closing) throw new InferenceError('worker is shutting down', 'Closing');
    let pending!: Pending;
    const promise = new Promise<FromThread>((resolve, reject) => {
      pending = { msg, onTokens, resolve, reject };
    });
    this.queue.push(pending);
    this.pump();
    const cancel = (): void => {
      const q = this.queue.indexOf(pending);
      if (q >= 0) {
        this.queue.splice(q, 1);
        pending.reject(new InferenceError('cancelled before it started', 'WindowCancelledError'));
        return;
      }
      const slot = this.slots.find((s) => s.busy === pending);
      if (slot) Atomics.store(slot.cancel, 0, msg.id);
    };
    return { promise, cancel };
  }

  /** A batch of windows (one thread, one session.run per step); rows come back in item order. */
  sample(
    batch: WindowBatch,
    onTokens?: (fresh: Int32Array[], tokensDone: number) => void,
  ): { result: Promise<{ rows: Int32Array[]; timing: WindowTiming }>; cancel: () => void } {
    const { promise, cancel } = this.submit({ type: 'sample', id: this.nextId++, batch }, onTokens);
    const result = promise.then((m) => {
      if (m.type !== 'sampled') throw new Error(`unexpected reply ${m.type}`);
      return { rows: m.rows, timing: m.timing };
    });
    return { result, cancel };
  }

  /** A decode chunk; cancel drops it if it has not started (a running decode is one session.run and finishes). */
  decode(level: number, rows: Int32Array[], trimStart: number, trimEnd: number): { result: Promise<{ audio: Float32Array[]; seconds: number }>; cancel: () => void } {
    const { promise, cancel } = this.submit({ type: 'decode', id: this.nextId++, level, rows, trimStart, trimEnd });
    const result = promise.then((m) => {
      if (m.type !== 'decoded') throw new Error(`unexpected reply ${m.type}`);
      return { audio: m.audio, seconds: m.seconds };
    });
    return { result, cancel };
  }

  /** Audio rows (a multiple of the level's hop each) through the level's VQ-VAE encoder. */
  encode(level: number, rows: Float32Array[]): { result: Promise<{ tokens: Int32Array[]; seconds: number }>; cancel: () => void } {
    const { promise, cancel } = this.submit({ type: 'encode', id: this.nextId++, level, rows });
    const result = promise.then((m) => {
      if (m.type !== 'encoded') throw new Error(`unexpected reply ${m.type}`);
      return { tokens: m.tokens, seconds: m.seconds };
    });
    return { result, cancel };
  }

  /**
   * Refuses what waits, asks running samples to stop (at their next step or chunk), waits up to `settleMs` for
   * the threads to go idle, then ends them. Terminating a thread inside a native session.run aborts the whole
   * process, so a running call is let finish rather than cut.
   */
  async close(settleMs = 30_000): Promise<void> {
    this.closing = true;
    for (const p of this.queue.splice(0)) p.reject(new InferenceError('worker is shutting down', 'Closing'));
    for (const s of this.slots) if (s.busy) Atomics.store(s.cancel, 0, s.busy.msg.id);
    const until = Date.now() + settleMs;
    while (this.slots.some((s) => s.busy) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    await Promise.all(this.slots.map((s) => s.thread.terminate()));
    this.slots.length = 0;
  }
}
