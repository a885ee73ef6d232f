// export: seconds for `ownlm export` of the `small` preset (random weights, a tokenizer trained on the demo
// corpus) to GGUF at each dtype, split into conversion + write and llama.cpp verification, beside the peer: a
// bare write (writeFileSync + fsync) of a buffer as large as the GGUF, on the same disk in the same run.
// The ratio export-write / bare-write is the cost of conversion (permutation, f16 rounding, quantization).
// Usage: npm run bench -- export [--dtypes f32,f16,q8_0,q4_0] [--repeat N]
import {
  closeSync,
  fsyncSync,
  mkdtempSync,
  openSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LlamaModel, modelPresets } from '@ownlm/engine';
import { demoCorpusSources } from '../packages/studio/src/data/demo-corpus.ts';
import type { GgufDtype, HfTensor } from '../packages/studio/src/formats/gguf-llama.ts';
import { writeHfFolder } from '../packages/studio/src/formats/hf-folder.ts';
import { trainTokenizer } from '../packages/studio/src/tokenizer/train.ts';
import { exportModel } from '../packages/studio/src/train/export.ts';

const { values } = parseArgs({
  options: {
    dtypes: { type: 'string', default: 'f32,f16,q8_0,q4_0' },
    repeat: { type: 'string', default: '3' },
  },
});
const dtypes = values.dtypes!.split(',') as GgufDtype[];
const repeat = Number(values.repeat);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function bareWrite(path: string, bytes: number): number {
  const chunk = Buffer.alloc(1 << 24, 7);
  const start = performance.now();
  const fd = openSync(path, 'w');
  for (let done = 0; done < bytes; done += chunk.length)
    writeSync(fd, chunk, 0, Math.min(chunk.length, bytes - done));
  fsyncSync(fd);
  closeSync(fd);
  return (performance.now() - start) / 1000;
}

const dir = mkdtempSync(join(tmpdir(), 'ownlm-bench-export-'));
try {
  const preset = modelPresets.small;
  const texts: string[] = [];
  for (const source of demoCorpusSources())
    for await (const document of source.documents()) texts.push(document.text);
  writeFileSync(join(dir, 'corpus.txt'), texts.join('\n'));
  let start = performance.now();
  const { tokenizer } = await trainTokenizer({
    inputs: [join(dir, 'corpus.txt')],
    outDir: join(dir, 'tokenizer'),
    vocabSize: preset.config.vocab_size,
  });
  const tokenizerSeconds = (performance.now() - start) / 1000;
  const model = new LlamaModel({ ...preset.config, vocab_size: preset.config.vocab_size }, { seed: 1 });
  const tensors = new Map<string, HfTensor>(
    [...model.parameters].map(([n, p]) => [n, { shape: p.shape, data: p.data }]),
  );
  const modelDir = join(dir, 'model');
  start = performance.now();
  writeHfFolder(modelDir, { config: model.config, tensors, tokenizerDir: join(dir, 'tokenizer') });
  const hfSeconds = (performance.now() - start) / 1000;
  const parameters = [...model.parameters.values()].reduce((n, p) => n + p.size, 0);
  console.log(
    `model: small preset, ${(parameters / 1e6).toFixed(1)} M parameters, random weights; tokenizer: ${tokenizer.vocabSize} tokens ` +
      `trained on the demo corpus in ${tokenizerSeconds.toFixed(1)} s; HF folder (F32) written in ${hfSeconds.toFixed(2)} s; ` +
      `${availableParallelism()} cores; median of ${repeat}`,
  );
  console.log('dtype   size MB   export s (write + verify)   bare write s   write / bare');
  for (const dtype of dtypes) {
    const writes: number[] = [];
    const verifies: number[] = [];
    const totals: number[] = [];
    const bares: number[] = [];
    let bytes = 0;
    let notes = '';
    for (let i = 0; i < repeat; i++) {
      const out = join(dir, `small-${dtype}.gguf`);
      start = performance.now();
      const report = await exportModel({ model: modelDir, out, format: 'gguf', dtype, overwrite: true });
      totals.push((performance.now() - start) / 1000);
      writes.push(report.writeSeconds);
      verifies.push(report.verifySeconds);
      bytes = statSync(out).size;
      const ties = report.prompts.filter((p) => p.nearTie).length;
      const compared = report.prompts.reduce((n, p) => n + p.compared, 0);
      notes = `${compared} greedy tokens identical${ties ? `, ${ties} prompt(s) ended on a near-tie` : ''}`;
      rmSync(out);
      bares.push(bareWrite(join(dir, 'bare.bin'), bytes));
      rmSync(join(dir, 'bare.bin'));
    }
    const [w, v, t, b] = [median(writes), median(verifies), median(totals), median(bares)];
    console.log(
      `${dtype.padEnd(6)}  ${(bytes / 1e6).toFixed(1).padStart(7)}   ${t.toFixed(2).padStart(6)} (${w.toFixed(2)} + ${v.toFixed(2)})` +
        `          ${b.toFixed(3).padStart(7)}        ${(w / b).toFixed(1)}×   ${notes}`,
    );
  }
  console.log(
    'export s includes loading the model folder; verify = llama.cpp load, 105 tokenizations ×2, 5 prompts',
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
