// The system Python with PyTorch and ONNX that the exporter tests run (tools/*.py, tests/fixtures/*.py).
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';

export const PYTHON = '/usr/bin/python3';

const execFileAsync = promisify(execFile);

/** Fails the test unless PYTHON can import torch and onnx, saying how to install them. */
export function requireTorch(): void {
  const probe = spawnSync(PYTHON, ['-c', 'import torch, onnx'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    assert.fail(
      `${PYTHON} cannot import torch and onnx (${(probe.stderr || String(probe.error)).trim().split('\n').pop()}); ` +
        'install them with `apt-get install python3-torch python3-onnx`',
    );
  }
}

/** Runs PYTHON with `args`; fails the test with its output, headed "`what` failed", if it does not exit 0. */
export async function runPython(args: string[], what: string, timeout = 120_000): Promise<{ stdout: string; stderr: string }> {
  try {
    return await execFileAsync(PYTHON, args, { timeout, maxBuffer: 16 << 20 });
  } catch (err) {
    const e = err as Error & { stderr?: string; stdout?: string };
    assert.fail(`${what} failed:\n${e.stderr ?? ''}\n${e.stdout ?? ''}\n${e.message}`);
  }
}
