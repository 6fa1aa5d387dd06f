// Command-line flags that would be read two ways are errors, not the last one silently (issue 11): a one-value
// option given twice, per-row labels (--row, --metas) with the job-wide ones or each other, --samples that
// disagrees with the rows. Every case fails while parsing, before any server is dialled or started.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN } from './helpers/cli.js';

/** No coordinator listens here: a case that got as far as dialling would fail differently (and slowly). */
const NOWHERE = ['--coordinator', '127.0.0.1:1'];
let dir = '';
let metas = '';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'jukebox-flags-'));
  metas = join(dir, 'metas.json');
  await writeFile(metas, JSON.stringify([{ artist: 'tiny_ensemble', genres: ['jazz'], lyrics: 'la' }, { artist: 'dr_noise' }]));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs the CLI expecting a refusal: exit code 1 and one error, no stack trace. */
function refused(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err === null) return reject(new Error(`jukebox ${args.join(' ')} succeeded: ${stdout}`));
      assert.equal(err.code, 1, `exit code of jukebox ${args.join(' ')}: ${stderr}`);
      assert.doesNotMatch(stderr, /^\s+at .+[(:]\d+/m, 'no stack trace');
      resolve(stderr);
    });
  });
}

const CASES: [string, string[], RegExp][] = [
  ['--artist twice', ['submit', '--seconds', '2', '--artist', 'a', '--artist', 'b', ...NOWHERE], /option '--artist <name>' argument 'b' is invalid\. --artist is given more than once; give it once/],
  ['--seed twice (render)', ['render', '--seconds', '2', '--out', 'x.wav', '--seed', '1', '--seed', '2'], /--seed is given more than once/],
  ['--samples twice', ['submit', '--seconds', '2', '--samples', '2', '--samples', '3', ...NOWHERE], /--samples is given more than once/],
  ['--coordinator twice', ['submit', '--seconds', '2', ...NOWHERE, ...NOWHERE], /--coordinator is given more than once/],
  ['--mode twice (plan, a choices option)', ['plan', '--seconds', '3', '--mode', 'exact', '--mode', 'sharded'], /--mode is given more than once/],
  ['--port twice (worker)', ['worker', '--port', '0', '--port', '1'], /--port is given more than once/],
  ['--search twice (models labels)', ['models', 'labels', '--search', 'a', '--search', 'b', ...NOWHERE], /--search is given more than once/],
  ['--metas twice', ['submit', '--seconds', '2', '--metas', 'METAS', '--metas', 'METAS', ...NOWHERE], /--metas is given more than once/],
  ['--metas with --artist', ['submit', '--seconds', '2', '--metas', 'METAS', '--artist', 'a', ...NOWHERE], /option '--metas <file\.json>' cannot be used with option '--artist <name>'/],
  ['--metas with --genre', ['render', '--seconds', '2', '--out', 'x.wav', '--genre', 'jazz', '--metas', 'METAS'], /'--metas <file\.json>' cannot be used with option '--genre <name\.\.\.>'/],
  ['--metas with --lyrics', ['submit', '--seconds', '2', '--lyrics', 'la', '--metas', 'METAS', ...NOWHERE], /'--metas <file\.json>' cannot be used with option '--lyrics/],
  ['--metas with --row', ['submit', '--seconds', '2', '--row', 'artist=a', '--metas', 'METAS', ...NOWHERE], /'--metas <file\.json>' cannot be used with option '--row <labels>'/],
  ['--row with --artist', ['submit', '--seconds', '2', '--row', 'artist=a', '--artist', 'b', ...NOWHERE], /'--row <labels>' cannot be used with option '--artist <name>'/],
  ['--samples against --row', ['submit', '--seconds', '2', '--row', 'artist=a', '--row', 'artist=b', '--samples', '3', ...NOWHERE], /--samples 3 disagrees with the 2 --row flags/],
  ['--samples against --metas', ['render', '--seconds', '2', '--out', 'x.wav', '--metas', 'METAS', '--samples', '1'], /--samples 1 disagrees with the 2 rows in --metas/],
  ['a --row that reads two ways', ['submit', '--seconds', '2', '--row', 'artist=a;lyrics=one; two', ...NOWHERE], /option '--row <labels>' argument .* is invalid\. " two" is not artist=/],
  ['a --metas that is not an array', ['submit', '--seconds', '2', '--metas', 'NOTARRAY', ...NOWHERE], /option '--metas <file\.json>' .* is invalid\. must hold a JSON array/],
];

test('conflicting or repeated one-value flags are refused, naming the flag', async () => {
  const notArray = join(dir, 'not-array.json');
  await writeFile(notArray, '{"artist": "a"}');
  // Two at a time: the machine may be shared.
  for (let i = 0; i < CASES.length; i += 2) {
    await Promise.all(
      CASES.slice(i, i + 2).map(async ([what, args, want]) => {
        const stderr = await refused(args.map((a) => (a === 'METAS' ? metas : a === 'NOTARRAY' ? notArray : a)));
        assert.match(stderr, want, `${what}: ${stderr}`);
      }),
    );
  }
});

test('--help documents --row and --metas', async () => {
  const help = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, [BIN, 'render', '--help'], { timeout: 60_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout))),
  );
  assert.match(help, /--row <labels>\s+one row's labels,\s+"artist=NAME;genres=A,B;lyrics=TEXT"/);
  assert.match(help, /--metas <file\.json>\s+per-row labels from a JSON file/);
});
