// The store of embedded mode: the same contract as JetStream's, held in this process (nothing survives it).
import type { DurableStore, JobEventRecord, JobProgressRecord, StoredJob } from './store.js';

interface Entry {
  job: StoredJob;
  windows: Map<string, Int32Array[]>;
  decoded: Map<number, Float32Array[]>;
  audio: Map<number, Uint8Array[]>;
  events: JobEventRecord[];
  lease?: { owner: string; untilMs: number };
}

export class MemoryStore implements DurableStore {
  readonly kind = 'memory';
  private readonly jobs = new Map<string, Entry>();

  constructor(private readonly now: () => number = Date.now) {}

  private entry(id: string): Entry {
    const e = this.jobs.get(id);
    if (!e) throw new RangeError(`store: no job "${id}"`);
    return e;
  }

  async createJob(job: StoredJob): Promise<void> {
    if (this.jobs.has(job.fixed.id)) throw new RangeError(`store: job "${job.fixed.id}" exists`);
    this.jobs.set(job.fixed.id, { job: structuredClone(job), windows: new Map(), decoded: new Map(), audio: new Map(), events: [] });
  }

  async listJobs(): Promise<StoredJob[]> {
    return [...this.jobs.values()].map((e) => structuredClone(e.job));
  }

  async getJob(id: string): Promise<StoredJob | undefined> {
    const e = this.jobs.get(id);
    return e && structuredClone(e.job);
  }

  async setProgress(id: string, progress: JobProgressRecord): Promise<void> {
    this.entry(id).job.progress = structuredClone(progress);
  }

  async putWindow(id: string, key: string, rows: Int32Array[]): Promise<void> {
    this.entry(id).windows.set(key, rows.map((r) => r.slice()));
  }

  async windows(id: string): Promise<Map<string, Int32Array[]>> {
    return new Map([...this.entry(id).windows].map(([k, rows]) => [k, rows.map((r) => r.slice())]));
  }

  async putDecoded(id: string, chunk: number, rows: Float32Array[]): Promise<void> {
    this.entry(id).decoded.set(chunk, rows.map((r) => r.slice()));
  }

  async decodedChunks(id: string): Promise<number[]> {
    return [...this.entry(id).decoded.keys()].sort((a, b) => a - b);
  }

  async getDecoded(id: string, chunk: number): Promise<Float32Array[] | undefined> {
    return this.entry(id).decoded.get(chunk)?.map((r) => r.slice());
  }

  async putAudio(id: string, row: number, pieces: AsyncIterable<Uint8Array>): Promise<number> {
    const e = this.entry(id);
    const parts: Uint8Array[] = [];
    let n = 0;
    for await (const p of pieces) {
      parts.push(p.slice());
      n += p.length;
    }
    e.audio.set(row, parts);
    return n;
  }

  readAudio(id: string, row: number): AsyncIterable<Uint8Array> | undefined {
    const parts = this.jobs.get(id)?.audio.get(row);
    if (!parts) return undefined;
    return (async function* () {
      for (const p of parts) yield p;
    })();
  }

  async appendEvent(id: string, event: Omit<JobEventRecord, 'seq'>): Promise<number> {
    const e = this.entry(id);
    const seq = e.events.length + 1;
    e.events.push({ ...structuredClone(event), seq });
    return seq;
  }

  async events(id: string, afterSeq: number): Promise<JobEventRecord[]> {
    return this.entry(id).events.filter((ev) => ev.seq > afterSeq).map((ev) => structuredClone(ev));
  }

  async deleteJob(id: string): Promise<void> {
    this.jobs.delete(id);
  }

  async acquireLease(id: string, owner: string, ttlMs: number): Promise<boolean> {
    const e = this.entry(id);
    const now = this.now();
    if (e.lease && e.lease.owner !== owner && e.lease.untilMs > now) return false;
    e.lease = { owner, untilMs: now + ttlMs };
    return true;
  }

  async releaseLease(id: string, owner: string): Promise<void> {
    const e = this.jobs.get(id);
    if (e?.lease?.owner === owner) e.lease = undefined;
  }

  async close(): Promise<void> {}
}
