// Secure by default (issue 10): loopback listeners unless told otherwise; TLS and mutual TLS from PEM files;
// bearer tokens with roles on the coordinator (UNAUTHENTICATED, PERMISSION_DENIED, a submitter sees its own jobs);
// workers that serve only their coordinator (mTLS and a shared secret). A CLI worker and a CLI coordinator, both
// started without --host, with certificates made by openssl in a temp folder.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCliServer, type Announcement } from './helpers/processes.js';
import { execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { CoordinatorClient, type SubmitRequest } from '../client/coordinator-client.js';
import { CHANNEL_OPTIONS, jukeboxProto } from '../proto/index.js';
import type { WorkerClient } from '../proto/generated/jukebox/v1/Worker.js';
import { TokenTable, parseTokens, readTokenFile, isLoopback } from '../server/security.js';
import { createJob } from '../coordinator/job-factory.js';
import { fixedRecord } from '../coordinator/job-persistence.js';
import { plannedJob } from '../coordinator/job-restore.js';
import { readModelFolder, DEFAULT_MODEL_DIR } from '../models/model-folder.js';
import { planSong } from '../shared/plan.js';
import { validateJobRequest } from '../shared/job-spec.js';
import { BIN } from './helpers/cli.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'jukebox-security-'));
const f = (name: string): string => join(dir, name);
const children: ChildProcess[] = [];

const TOKENS = { alice: 'alice-admin-token-0123456789', bob: 'bob-submitter-token-0123456789', carol: 'carol-submitter-token-0123456789' };
const WORKER_SECRET = 'worker-secret-0123456789abcdef';

let workerAddress = '';
let coordinatorAddress = '';
let coordinatorHealthPort = 0;

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A CA, and a certificate it signs for `cn` with the given subjectAltName (or none for a client certificate). */
function makeCa(name: string): void {
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${name}`);
}
function makeCert(name: string, ca: string, san?: string): void {
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
  const ext = f(`${name}.ext`);
  writeFileSync(ext, san ? `subjectAltName=${san}\nextendedKeyUsage=serverAuth,clientAuth\n` : 'extendedKeyUsage=clientAuth\n');
  openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', ext);
}

const startServer = (args: string[]): Promise<Announcement> => startCliServer(args, children);

before(async () => {
  makeCa('ca');
  makeCa('rogue-ca');
  makeCert('server', 'ca', 'DNS:localhost,IP:127.0.0.1');
  makeCert('coordinator-client', 'ca');
  makeCert('rogue-client', 'rogue-ca');
  writeFileSync(f('tokens'), `# role name token\nadmin alice ${TOKENS.alice}\nsubmitter bob ${TOKENS.bob}\n\nsubmitter\tcarol\t${TOKENS.carol}\n`);
  writeFileSync(f('worker-secret'), `${WORKER_SECRET}\n`);
  writeFileSync(f('bob.token'), `${TOKENS.bob}\n`);
  // Neither is given --host: both must listen on loopback only.
  const worker = await startServer([
    'worker', '--port', '0', '--metrics-port', '0',
    '--tls-cert', f('server.pem'), '--tls-key', f('server.key'), '--tls-client-ca', f('ca.pem'), '--worker-token-file', f('worker-secret'),
  ]);
  workerAddress = worker.listening;
  const coordinator = await startServer([
    'coordinator', '--workers', workerAddress, '--port', '0', '--metrics-port', '0', '--health-port', '0',
    '--tls-cert', f('server.pem'), '--tls-key', f('server.key'), '--tokens-file', f('tokens'),
    '--worker-tls-ca', f('ca.pem'), '--worker-tls-cert', f('coordinator-client.pem'), '--worker-tls-key', f('coordinator-client.key'),
    '--worker-token-file', f('worker-secret'),
  ]);
  coordinatorAddress = coordinator.listening;
  coordinatorHealthPort = coordinator.healthPort ?? 0;
});

after(() => {
  for (const c of children) c.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
});

const job: SubmitRequest = { model: 'tiny', artist: 'tiny_ensemble', genres: ['rock'], lyrics: 'la la', durationSeconds: 2, samples: 1, seed: '5', sampling: [] };

const tlsCa = { ca: f('ca.pem') };
const as = (who: keyof typeof TOKENS): CoordinatorClient => new CoordinatorClient(coordinatorAddress, { tls: tlsCa, token: TOKENS[who] });

async function rejectsWith(p: Promise<unknown>, code: grpc.status, what: string): Promise<void> {
  await assert.rejects(p, (err: grpc.ServiceError) => {
    assert.equal(err.code, code, `${what}: ${grpc.status[err.code]} ${err.details}`);
    return true;
  });
}

/** Drains an async iterable (a server stream) and returns what it yielded. */
async function drain<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

test('tokens file: one "ROLE NAME TOKEN" per line; a bad line is refused naming it', () => {
  const t = parseTokens(`# comment\n\nadmin root ${'a'.repeat(16)}\nsubmitter bob ${'b'.repeat(20)}\n`, 'tokens');
  assert.equal(t.size, 2);
  assert.deepEqual(t.lookup('b'.repeat(20)), { name: 'bob', role: 'submitter' });
  assert.equal(t.lookup('c'.repeat(20)), undefined);
  assert.throws(() => parseTokens(`admin root ${'a'.repeat(16)}\nsubmitter bob\n`, 'tok'), /^Error: tok:2: expected "ROLE NAME TOKEN", got 2 field/);
  assert.throws(() => parseTokens(`owner root ${'a'.repeat(16)}\n`, 'tok'), /tok:1: role must be admin or submitter/);
  assert.throws(() => parseTokens('admin root short\n', 'tok'), /tok:1: the token is shorter than 16/);
  assert.throws(() => parseTokens(`admin a ${'a'.repeat(16)}\nadmin b ${'a'.repeat(16)}\n`, 'tok'), /tok:2: the token of "b" is given twice/);
  assert.throws(() => parseTokens(`admin r\u00e9 ${'a'.repeat(16)}\n`, 'tok'), /tok:1: the name must be/);
  assert.throws(() => parseTokens('# nothing\n', 'tok'), /tok: no tokens/);
  writeFileSync(f('two-lines'), 'aaaaaaaaaaaaaaaaaaaa\nbbbbbbbbbbbbbbbbbbbbbb\n');
  assert.throws(() => readTokenFile(f('two-lines')), /expected one line with the token, got 2/);
  assert.equal(TokenTable.secret(WORKER_SECRET).lookup(WORKER_SECRET)?.role, 'coordinator');
  assert.ok(isLoopback('127.0.0.1') && isLoopback('::1') && isLoopback('localhost') && !isLoopback('0.0.0.0'));
});

test('both servers listen on loopback when --host is not given', async () => {
  assert.match(workerAddress, /^127\.0\.0\.1:\d+$/);
  assert.match(coordinatorAddress, /^127\.0\.0\.1:\d+$/);
  // And nothing answers on this machine's other addresses (where it has one).
  const other = Object.values(networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal);
  if (!other) return;
  const port = Number(coordinatorAddress.split(':')[1]);
  const reached = await new Promise<boolean>((resolve) => {
    const s = connect({ host: other.address, port, timeout: 2000 }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
    s.on('timeout', () => {
      s.destroy();
      resolve(false);
    });
  });
  assert.equal(reached, false, `the coordinator answers on ${other.address}:${port}`);
});

test('the coordinator refuses plaintext, and calls without a known token (UNAUTHENTICATED), reflection included; health stays open', async () => {
  const plain = new CoordinatorClient(coordinatorAddress, { token: TOKENS.alice });
  await assert.rejects(plain.list(), (err: grpc.ServiceError) => err.code === grpc.status.UNAVAILABLE);
  plain.close();
  const anonymous = new CoordinatorClient(coordinatorAddress, { tls: tlsCa });
  await rejectsWith(anonymous.list(), grpc.status.UNAUTHENTICATED, 'no token');
  await rejectsWith(anonymous.submit(job), grpc.status.UNAUTHENTICATED, 'no token');
  anonymous.close();
  const stranger = new CoordinatorClient(coordinatorAddress, { tls: tlsCa, token: 'not-a-token-of-this-coordinator' });
  await rejectsWith(stranger.list(), grpc.status.UNAUTHENTICATED, 'unknown token');
  stranger.close();
  // A client that does not trust the coordinator's CA gets no answer either.
  const untrusting = new CoordinatorClient(coordinatorAddress, { tls: { ca: f('rogue-ca.pem') }, token: TOKENS.alice });
  await assert.rejects(untrusting.list(), (err: grpc.ServiceError) => err.code === grpc.status.UNAVAILABLE);
  untrusting.close();
  // Health checks need no token: on the TLS port, and in plaintext on --health-port.
  const check = (address: string, creds: grpc.ChannelCredentials): Promise<string> =>
    new Promise((resolve, reject) => {
      const c = new grpc.Client(address, creds);
      c.makeUnaryRequest(
        '/grpc.health.v1.Health/Check',
        (x: Buffer) => x,
        (b: Buffer) => b,
        Buffer.from([0x0a, 0x00]), // HealthCheckRequest{service: ""}
        { deadline: Date.now() + 10_000 },
        (err, res) => {
          c.close();
          // HealthCheckResponse{status: SERVING (1)} is 08 01.
          if (err) reject(err);
          else resolve(Buffer.from(res!).toString('hex'));
        },
      );
    });
  assert.equal(await check(coordinatorAddress, grpc.credentials.createSsl(readFileSync(f('ca.pem')))), '0801');
  assert.ok(coordinatorHealthPort > 0);
  assert.equal(await check(`127.0.0.1:${coordinatorHealthPort}`, grpc.credentials.createInsecure()), '0801');
  // Reflection is no exception: it needs a token.
  const reflect = (token?: string): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      const c = new grpc.Client(coordinatorAddress, grpc.credentials.createSsl(readFileSync(f('ca.pem'))));
      const md = new grpc.Metadata();
      if (token) md.set('authorization', `Bearer ${token}`);
      const call = c.makeBidiStreamRequest('/grpc.reflection.v1.ServerReflection/ServerReflectionInfo', (x: Buffer) => x, (b: Buffer) => b, md, { deadline: Date.now() + 10_000 });
      call.on('data', (b: Buffer) => {
        resolve(b);
        call.cancel();
        c.close();
      });
      call.on('error', (err: grpc.ServiceError) => {
        c.close();
        if (err.code !== grpc.status.CANCELLED) reject(err);
      });
      call.write(Buffer.from([0x3a, 0x00])); // ServerReflectionRequest{list_services: ""}
    });
  await rejectsWith(reflect(), grpc.status.UNAUTHENTICATED, 'reflection without a token');
  assert.match((await reflect(TOKENS.bob)).toString('latin1'), /jukebox\.v1\.Coordinator/);
  // The plaintext health port serves nothing else.
  const onHealth = new CoordinatorClient(`127.0.0.1:${coordinatorHealthPort}`, { token: TOKENS.alice });
  await rejectsWith(onHealth.list(), grpc.status.UNIMPLEMENTED, 'ListJobs on the health port');
  onHealth.close();
});

test('a submitter sees and acts on its own jobs only (PERMISSION_DENIED); an admin sees all; a job runs to SUCCEEDED over TLS', async () => {
  const alice = as('alice');
  const bob = as('bob');
  const carol = as('carol');
  try {
    const b = await bob.submit(job);
    const c = await carol.submit({ ...job, seed: '6' });
    // Bob's job, end to end: coordinator over TLS with a token, workers over mTLS with the shared secret.
    const end = await drain(bob.watch(b.jobId));
    assert.equal(end.at(-1)!.state, 'JOB_STATE_SUCCEEDED', end.at(-1)!.error);
    const wav = await bob.fetchAudio(b.jobId, 0);
    assert.equal(wav.subarray(0, 4).toString(), 'RIFF');
    assert.ok(wav.length > 1000);
    // Carol's job is not Bob's business.
    const D = grpc.status.PERMISSION_DENIED;
    await rejectsWith(bob.get(c.jobId), D, 'GetJob of another');
    await rejectsWith(bob.cancel(c.jobId), D, 'CancelJob of another');
    await rejectsWith(drain(bob.watch(c.jobId)), D, 'WatchJob of another');
    await rejectsWith(bob.fetchTokens(c.jobId), D, 'FetchTokens of another');
    await rejectsWith(bob.fetchAudio(c.jobId, 0), D, 'FetchAudio of another');
    await rejectsWith(carol.fetchAudio(b.jobId, 0), D, 'FetchAudio of another');
    assert.deepEqual((await bob.list()).map((j) => j.jobId), [b.jobId]);
    assert.deepEqual((await carol.list()).map((j) => j.jobId), [c.jobId]);
    assert.deepEqual((await alice.list()).map((j) => j.jobId).sort(), [b.jobId, c.jobId].sort());
    // The admin reaches Carol's job; Carol cancels her own.
    assert.equal((await alice.get(c.jobId)).jobId, c.jobId);
    const cancelled = await carol.cancel(c.jobId);
    assert.ok(['JOB_STATE_CANCELLED', 'JOB_STATE_SUCCEEDED'].includes(cancelled.state), cancelled.state);
    // The CLI with --tls-ca and --token-file sees what Bob sees; without a token it is refused.
    const listed = JSON.parse((await run(process.execPath, [BIN, 'list', '--json', '--coordinator', coordinatorAddress, '--tls-ca', f('ca.pem'), '--token-file', f('bob.token')])).stdout) as { jobId: string }[];
    assert.deepEqual(listed.map((j) => j.jobId), [b.jobId]);
    await assert.rejects(run(process.execPath, [BIN, 'list', '--coordinator', coordinatorAddress, '--tls-ca', f('ca.pem')], { env: { ...process.env, JUKEBOX_TOKEN: '', JUKEBOX_TOKEN_FILE: '' } }), /authorization: missing/);
  } finally {
    for (const c of [alice, bob, carol]) c.close();
  }
});

/** A raw worker client: TLS with the given client certificate (or none), and the token (or none). */
function workerClient(opts: { tls: boolean; clientCert?: string; token?: string }): WorkerClient {
  const Client = jukeboxProto().Worker;
  const creds = opts.tls
    ? grpc.credentials.createSsl(readFileSync(f('ca.pem')), opts.clientCert ? readFileSync(f(`${opts.clientCert}.key`)) : null, opts.clientCert ? readFileSync(f(`${opts.clientCert}.pem`)) : null)
    : grpc.credentials.createInsecure();
  const md = new grpc.Metadata();
  if (opts.token) md.set('authorization', `Bearer ${opts.token}`);
  const interceptor: grpc.Interceptor = (o, next) =>
    new grpc.InterceptingCall(next(o), {
      start(metadata, listener, nxt) {
        metadata.merge(md);
        nxt(metadata, listener);
      },
    });
  return new Client(workerAddress, creds, { ...CHANNEL_OPTIONS, interceptors: [interceptor] });
}

const describe = (c: WorkerClient): Promise<{ modelHash: string }> =>
  new Promise((resolve, reject) => c.Describe({}, { deadline: Date.now() + 10_000 }, (err, res) => (err ? reject(err) : resolve(res!))));

test('a worker serves only its coordinator: plaintext, a foreign certificate or a missing secret is refused', async () => {
  const refused = async (c: WorkerClient, code: grpc.status, what: string): Promise<void> => {
    await rejectsWith(describe(c), code, what);
    c.close();
  };
  await refused(workerClient({ tls: false, token: WORKER_SECRET }), grpc.status.UNAVAILABLE, 'plaintext');
  await refused(workerClient({ tls: true, token: WORKER_SECRET }), grpc.status.UNAVAILABLE, 'TLS without a client certificate');
  await refused(workerClient({ tls: true, clientCert: 'rogue-client', token: WORKER_SECRET }), grpc.status.UNAVAILABLE, 'a certificate of another CA');
  // Past mTLS, the secret is still required: Describe, SampleWindow and Decode alike.
  const noSecret = workerClient({ tls: true, clientCert: 'coordinator-client' });
  await rejectsWith(describe(noSecret), grpc.status.UNAUTHENTICATED, 'Describe without the secret');
  const sample = noSecret.SampleWindow({ modelHash: 'x', level: 2, newTokens: 1, windows: [] });
  await rejectsWith(drain(sample as AsyncIterable<unknown>), grpc.status.UNAUTHENTICATED, 'SampleWindow without the secret');
  await rejectsWith(
    new Promise((resolve, reject) => noSecret.Decode({ modelHash: 'x', level: 0, rows: [] }, (err, res) => (err ? reject(err) : resolve(res)))),
    grpc.status.UNAUTHENTICATED,
    'Decode without the secret',
  );
  noSecret.close();
  await refused(workerClient({ tls: true, clientCert: 'coordinator-client', token: 'guessed-secret-0123456789' }), grpc.status.UNAUTHENTICATED, 'a wrong secret');
  // The coordinator's certificate and secret get an answer: the refusals above are not a dead worker.
  const ok = workerClient({ tls: true, clientCert: 'coordinator-client', token: WORKER_SECRET });
  assert.match((await describe(ok)).modelHash, /^[0-9a-f]{64}$/);
  ok.close();
});

test("a job's owner is part of its durable record and comes back after a restart", async () => {
  const { manifest, hash } = await readModelFolder(DEFAULT_MODEL_DIR);
  const spec = validateJobRequest({ ...job, seed: 1, sampling: [] } as never, manifest);
  const made = createJob({ id: 'job-x', spec, modelHash: hash, wavFormat: 'pcm16', plan: planSong(manifest, spec.durationSeconds), manifest, decodeChunkTokens: 16384, owner: 'bob' });
  const fixed = fixedRecord(made);
  assert.equal(fixed.owner, 'bob');
  assert.equal(plannedJob({ fixed: JSON.parse(JSON.stringify(fixed)), progress: { state: 'QUEUED' } }, manifest).owner, 'bob');
  const anonymous = createJob({ id: 'job-y', spec, modelHash: hash, wavFormat: 'pcm16', plan: planSong(manifest, spec.durationSeconds), manifest, decodeChunkTokens: 16384 });
  assert.equal('owner' in fixedRecord(anonymous), false);
});
