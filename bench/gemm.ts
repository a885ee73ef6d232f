// GEMM GFLOP/s of the native backend beside PyTorch's torch.mm (fp32, CPU, same thread count), measured in
// the same run and interleaved round by round (the best of every round counts, since the machine is shared):
// square sizes, then the products of training: for a linear layer of `tokens` rows from `in` to `out`
// features, forward Y = X·Wᵀ (W stored [out, in]), dX = dY·W and dW = dYᵀ·X.
// Usage: npm run bench -- gemm [--threads 1,2] [--rounds 3] [--min-seconds 0.3] [--only square|train]
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import type { GemmParams } from '../packages/engine/src/backend/backend.ts';
import { loadNativeBackend, nativeInfo } from '../packages/engine/src/backend/native.ts';
import { ensureTorch, runTorchPeer } from './lib/torch-peer.ts';

interface Product {
  label: string;
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
}

interface TorchResult {
  torch: string;
  blas: string;
  gflops: number[];
}

const { values } = parseArgs({
  options: {
    threads: { type: 'string', default: `1,${availableParallelism()}` },
    rounds: { type: 'string', default: '3' },
    'min-seconds': { type: 'string', default: '0.3' },
    only: { type: 'string' },
  },
});
const threadCounts = [...new Set(values.threads.split(',').map(Number))];
const rounds = Number(values.rounds);
const minSeconds = Number(values['min-seconds']);

const products: Product[] = [];
if (values.only !== 'train') {
  for (const size of [256, 512, 1024, 2048]) {
    products.push({ label: `square ${size}`, m: size, n: size, k: size, transA: false, transB: false });
  }
}
if (values.only !== 'square') {
  const layers: [number, number, number, string][] = [
    [4096, 256, 768, 'qkv'],
    [4096, 256, 688, 'mlp up'],
    [4096, 688, 256, 'mlp down'],
    [4096, 256, 4096, 'lm head'],
    [4096, 512, 1376, 'mlp up'],
    [4096, 512, 8192, 'lm head'],
    [1024, 768, 2048, 'mlp up'],
    [1024, 768, 32000, 'lm head'],
  ];
  for (const [tokens, inF, outF, what] of layers) {
    const name = `${tokens}x${inF}→${outF} ${what}`;
    products.push({ label: `${name} fwd`, m: tokens, n: outF, k: inF, transA: false, transB: true });
    products.push({ label: `${name} dX`, m: tokens, n: inF, k: outF, transA: false, transB: false });
    products.push({ label: `${name} dW`, m: outF, n: inF, k: tokens, transA: true, transB: false });
  }
}

const native = loadNativeBackend();
if (!native) throw new Error('the native addon is not built; run `npm install` with g++ available');
const torchVersion = ensureTorch();

function random(n: number): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = Math.random() * 2 - 1;
  return x;
}

function oursGflops(p: Product): number {
  const params: GemmParams = {
    transA: p.transA,
    transB: p.transB,
    m: p.m,
    n: p.n,
    k: p.k,
    alpha: 1,
    a: random(p.m * p.k),
    lda: p.transA ? p.m : p.k,
    b: random(p.k * p.n),
    ldb: p.transB ? p.k : p.n,
    beta: 0,
    c: new Float32Array(p.m * p.n),
    ldc: p.n,
  };
  native!.gemm(params);
  let best = Infinity;
  let spent = 0;
  for (let runs = 0; runs < 3 || spent < minSeconds; runs++) {
    const start = performance.now();
    native!.gemm(params);
    const elapsed = (performance.now() - start) / 1000;
    best = Math.min(best, elapsed);
    spent += elapsed;
  }
  return (2 * p.m * p.n * p.k) / best / 1e9;
}

const ours = new Map<number, number[]>(threadCounts.map((t) => [t, products.map(() => 0)]));
const theirs = new Map<number, number[]>(threadCounts.map((t) => [t, products.map(() => 0)]));
let blas = '';
for (let round = 0; round < rounds; round++) {
  for (const threads of threadCounts) {
    native.setThreads(threads);
    const mine = ours.get(threads)!;
    products.forEach((p, i) => (mine[i] = Math.max(mine[i], oursGflops(p))));
    const peer = runTorchPeer<TorchResult>(
      'gemm.py',
      [String(threads), String(minSeconds), JSON.stringify(products)],
      threads,
    );
    blas = peer.blas;
    const best = theirs.get(threads)!;
    peer.gflops.forEach((g, i) => (best[i] = Math.max(best[i], g)));
  }
}

const info = nativeInfo()!;
console.log(
  `gemm: ownlm native (${info.isa}) vs PyTorch ${torchVersion} torch.mm (${blas}), fp32, ` +
    `best of ${rounds} interleaved rounds, each ≥ ${minSeconds} s and ≥ 3 runs per product`,
);
console.log(
  'product                              m      n      k  op | threads  ownlm GF/s  torch GF/s  ratio',
);
for (const threads of threadCounts) {
  let logSum = 0;
  products.forEach((p, i) => {
    const a = ours.get(threads)![i];
    const b = theirs.get(threads)![i];
    logSum += Math.log(a / b);
    const op = `${p.transA ? 't' : 'n'}${p.transB ? 't' : 'n'}`;
    console.log(
      [
        p.label.padEnd(32),
        String(p.m).padStart(6),
        String(p.n).padStart(6),
        String(p.k).padStart(6),
        op.padStart(3),
        '|',
        String(threads).padStart(7),
        a.toFixed(1).padStart(11),
        b.toFixed(1).padStart(11),
        `${(a / b).toFixed(2)}×`.padStart(6),
      ].join(' '),
    );
  });
  console.log(
    `geometric mean ratio with ${threads} thread(s): ${Math.exp(logSum / products.length).toFixed(2)}×\n`,
  );
}
