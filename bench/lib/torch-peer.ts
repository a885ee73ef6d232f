// The PyTorch peer for benchmarks: Debian's python3-torch on the CPU, installed with apt when missing, run as a
// child process that prints one JSON object on its last stdout line.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const python = '/usr/bin/python3';

function torchVersion(): string | null {
  const probe = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
  return probe.status === 0 ? probe.stdout.trim() : null;
}

const openblas = '/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3';

/**
 * Returns the torch version, installing Debian's python3-torch first when it is missing. Debian's torch calls
 * whatever libblas.so.3 is installed, and the default one is the unoptimized reference BLAS (about 5 GFLOP/s),
 * so OpenBLAS is installed too: the peer must be PyTorch at its best on this machine, not a strawman.
 */
export function ensureTorch(): string {
  const found = torchVersion();
  if (found && existsSync(openblas)) return found;
  console.log('bench: installing the PyTorch peer (apt-get install python3-torch libopenblas0-pthread)…');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  const install = spawnSync('apt-get', ['install', '-y', '-qq', 'python3-torch', 'libopenblas0-pthread'], {
    stdio: 'inherit',
    env,
  });
  const version = torchVersion();
  if (install.status !== 0 || !version || !existsSync(openblas)) {
    throw new Error(
      'could not install python3-torch and libopenblas0-pthread with apt-get; run the bench as root',
    );
  }
  return version;
}

/** Runs bench/torch/SCRIPT with arguments and returns the JSON object it printed last. */
export function runTorchPeer<T>(script: string, args: string[], threads: number): T {
  const result = spawnSync(python, [join(import.meta.dirname, '..', 'torch', script), ...args], {
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads) },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.status !== 0) throw new Error(`torch peer ${script} failed:\n${result.stderr}`);
  const lines = result.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]) as T;
}
