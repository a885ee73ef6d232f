// The parsers that take untrusted bytes, as fuzz targets: each makes its seeds with ownlm's own writers (a tiny
// model exported to GGUF and safetensors, a tokenizer trained here, conversation files), mutates them with a
// structure-aware mutator, and feeds a mutant to the parser and to what reads the parser's result on the way
// to a model (GGUF import, tensor decoding, encoding with a loaded tokenizer), as ownlm's commands do.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LlamaModel, Random, type LlamaConfigInput } from '@ownlm/engine';
import { importConversationsFile } from '../finetune/import-conversations.ts';
import type { Conversation } from '../finetune/conversation.ts';
import { writeConversationDataset } from '../finetune/dataset.ts';
import { datasetStats } from '../finetune/dataset-stats.ts';
import { voiceConversation } from '../finetune/finetune-fixture.ts';
import { trainTinyModel, type TinyModel } from '../formats/fixtures/tiny-model.ts';
import { GgmlType, readGgufHeader, writeGguf, type GgufValue } from '../formats/gguf.ts';
import { readLlamaGguf, writeLlamaGguf } from '../formats/gguf-llama.ts';
import { writeGgufLoraAdapter } from '../formats/gguf-lora.ts';
import { writeGgufTokenizerFiles } from '../formats/gguf-tokenizer.ts';
import { readModelConfig, writeHfFolder } from '../formats/hf-folder.ts';
import { readPeftAdapterConfig, writePeftAdapter } from '../formats/peft-adapter.ts';
import { parseSafetensors, readSafetensors, serializeSafetensors } from '../formats/safetensors.ts';
import { encodeBf16 } from '../formats/quant.ts';
import { LLAMA3_PATTERN } from '../tokenizer/pretokenize.ts';
import { Tokenizer } from '../tokenizer/tokenizer.ts';
import { mutateBytes } from './bytes.ts';
import { isTypedError, type FuzzTarget, type TargetRef } from './harness.ts';
import { GgufMutator } from './gguf-mutator.ts';
import { JsonlMutator } from './jsonl-mutator.ts';
import { JsonMutator, toJsonNode } from './json-mutator.ts';
import { SafetensorsMutator } from './safetensors-mutator.ts';

// One tiny model per process and folder: its tokenizer is trained (the GGUF must carry a real one), its
// weights stay random, and it is small so that a mutant is cheap to write and read.
const tinyModels = new Map<string, Promise<TinyModel>>();
const TINY_CONFIG: Partial<LlamaConfigInput> = {
  hidden_size: 32,
  intermediate_size: 64,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  num_key_value_heads: 1,
};
function tinyModel(dir: string): Promise<TinyModel> {
  let model = tinyModels.get(dir);
  if (!model) {
    model = trainTinyModel(join(dir, 'tiny'), { steps: 0, config: TINY_CONFIG });
    tinyModels.set(dir, model);
  }
  return model;
}

const hfTensors = (model: LlamaModel) =>
  new Map([...model.parameters].map(([name, p]) => [name, { shape: p.shape, data: p.data }]));

/**
 * A GGUF with every value type, arrays among them, tensors of several ggml types, and the keys the server reads
 * from a model (a per-layer array among them).
 */
function writeRichGguf(path: string): void {
  const metadata = new Map<string, GgufValue>([
    ['general.architecture', { type: 'string', value: 'llama' }],
    ['general.alignment', { type: 'u32', value: 64 }],
    ['fuzz.u8', { type: 'u8', value: 200 }],
    ['fuzz.i8', { type: 'i8', value: -3 }],
    ['fuzz.u16', { type: 'u16', value: 60_000 }],
    ['fuzz.i16', { type: 'i16', value: -30_000 }],
    ['fuzz.i32', { type: 'i32', value: -7 }],
    ['fuzz.f32', { type: 'f32', value: 0.5 }],
    ['fuzz.bool', { type: 'bool', value: true }],
    ['fuzz.u64', { type: 'u64', value: 2n ** 40n }],
    ['fuzz.i64', { type: 'i64', value: -(2n ** 40n) }],
    ['fuzz.f64', { type: 'f64', value: 1e-300 }],
    ['fuzz.strings', { type: 'array', elementType: 'string', value: ['a', 'é', '<|im_end|>'] }],
    ['llama.embedding_length', { type: 'u32', value: 32 }],
    ['llama.block_count', { type: 'u32', value: 4 }],
    ['llama.context_length', { type: 'u32', value: 64 }],
    ['llama.attention.head_count', { type: 'u32', value: 2 }],
    ['llama.attention.head_count_kv', { type: 'array', elementType: 'u32', value: [2, 2, 1, 1] }],
    ['tokenizer.ggml.tokens', { type: 'array', elementType: 'string', value: ['a', 'b', '<|im_end|>'] }],
    ['tokenizer.chat_template', { type: 'string', value: '{{ messages[0].content }}' }],
  ]);
  const block = (bytes: number) => new Uint8Array(bytes).map((_, i) => i);
  writeGguf(path, metadata, [
    { name: 'f32', type: GgmlType.F32, ne: [4, 2], data: block(32) },
    { name: 'f16', type: GgmlType.F16, ne: [3], data: block(6) },
    { name: 'bf16', type: GgmlType.BF16, ne: [5], data: block(10) },
    { name: 'q8_0', type: GgmlType.Q8_0, ne: [32, 2], data: block(68) },
    { name: 'q4_0', type: GgmlType.Q4_0, ne: [64], data: block(36) },
    { name: 'q4_k', type: 12, ne: [256], data: block(144) },
  ]);
}

/**
 * GGUF files: the header parser the server runs on every model file, then what `ownlm import` does with an
 * accepted llama file (every tensor read and dequantized, the tokenizer files rebuilt and loaded).
 */
export const ggufTarget: FuzzTarget = {
  name: 'gguf',
  fileName: 'input.gguf',
  async makeSeeds(dir) {
    const tiny = await tinyModel(dir);
    const model = join(dir, 'model-q8_0.gguf');
    writeLlamaGguf(model, {
      config: tiny.model.config,
      tensors: hfTensors(tiny.model),
      tokenizerDir: tiny.tokenizerDir,
      dtype: 'q8_0',
    });
    const adapter = join(dir, 'adapter.gguf');
    const lora = new LlamaModel(tiny.model.config, { seed: 1 }).attachLora({
      rank: 2,
      alpha: 4,
      targets: ['q_proj', 'v_proj'],
    });
    writeGgufLoraAdapter(adapter, lora, tiny.model.config);
    const rich = join(dir, 'rich.gguf');
    writeRichGguf(rich);
    return [model, adapter, rich].map((path) => readFileSync(path));
  },
  mutators(seeds) {
    return seeds.map((seed) => {
      const mutator = new GgufMutator(seed);
      return (random) => mutator.mutate(random);
    });
  },
  run(path, scratch) {
    readGgufHeader(path);
    const typedRejection = (error: unknown) => {
      if (!isTypedError(error)) throw error;
    };
    try {
      const gguf = readLlamaGguf(path);
      writeGgufTokenizerFiles(gguf.header, scratch);
      Tokenizer.fromFile(scratch).encode(SAMPLE_TEXT);
    } catch (error) {
      typedRejection(error);
    }
  },
};

/** The tiny model as a Hugging Face folder (BF16 weights) in `dir/hf`. */
async function hfFolder(dir: string): Promise<string> {
  const tiny = await tinyModel(dir);
  const folder = join(dir, 'hf');
  writeHfFolder(folder, {
    config: tiny.model.config,
    tensors: hfTensors(tiny.model),
    tokenizerDir: tiny.tokenizerDir,
    dtype: 'bf16',
    overwrite: true,
  });
  return folder;
}

/** A PEFT adapter of the tiny model (rank 2 on k_proj) in `dir/peft`. */
async function peftFolder(dir: string): Promise<string> {
  const tiny = await tinyModel(dir);
  const folder = join(dir, 'peft');
  const lora = new LlamaModel(tiny.model.config, { seed: 1 }).attachLora({
    rank: 2,
    alpha: 4,
    targets: ['k_proj'],
  });
  writePeftAdapter(folder, lora, { baseModel: 'tiny' });
  return folder;
}

/** Every tensor of a safetensors file, read as the checkpoint and Hugging Face readers read them. */
export const safetensorsTarget: FuzzTarget = {
  name: 'safetensors',
  fileName: 'input.safetensors',
  async makeSeeds(dir) {
    const folder = await hfFolder(dir);
    const peft = await peftFolder(dir);
    const mixed = serializeSafetensors(
      [
        { name: 'f32', dtype: 'F32', shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) },
        { name: 'f16', dtype: 'F16', shape: [3], data: new Float32Array([0.5, -1, 65504]) },
        { name: 'bf16', dtype: 'BF16', shape: [2], data: encodeBf16(new Float32Array([1, -2])) },
        { name: 'i64', dtype: 'I64', shape: [1], data: new BigInt64Array([-1n]) },
        { name: 'u8', dtype: 'U8', shape: [2, 2], data: new Uint8Array([1, 2, 3, 4]) },
        { name: 'bool', dtype: 'BOOL', shape: [1], data: new Uint8Array([1]) },
        { name: 'f4', dtype: 'F4', shape: [4], data: new Uint8Array([0x12, 0x34]) },
        { name: 'scalar', dtype: 'F64', shape: [], data: new Float64Array([Math.PI]) },
        { name: 'empty', dtype: 'F32', shape: [0, 3], data: new Float32Array(0) },
        { name: 'наименование', dtype: 'I32', shape: [1], data: new Int32Array([7]) },
      ],
      { format: 'pt', note: 'ünïcode' },
    );
    return [
      readFileSync(join(folder, 'model.safetensors')),
      readFileSync(join(peft, 'adapter_model.safetensors')),
      mixed,
    ];
  },
  mutators(seeds) {
    return seeds.map((seed) => {
      const mutator = new SafetensorsMutator(seed);
      return (random) => mutator.mutate(random);
    });
  },
  run(path) {
    const { tensors } = parseSafetensors(readFileSync(path), path);
    for (const tensor of tensors.values()) {
      try {
        tensor.toFloat32();
      } catch (error) {
        if (!isTypedError(error)) throw error;
      }
    }
    readSafetensors(path);
  },
};

/** Mutants of JSON documents: mostly structure-aware, one in ten by their bytes. */
function jsonMutators(seeds: readonly Uint8Array[]): ((random: Random) => Uint8Array)[] {
  return seeds.map((seed) => {
    const mutator = new JsonMutator(toJsonNode(JSON.parse(new TextDecoder().decode(seed))));
    const mutateText = (random: Random) => Buffer.from(mutator.mutate(random));
    return (random) => (random.int(10) === 0 ? mutateBytes(seed, [], random) : mutateText(random));
  });
}

/** A JSON file of a seed folder, changed by `edit`, as seed bytes. */
function editedJson(file: string, edit: (json: Record<string, unknown>) => void): Buffer {
  const json = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  edit(json);
  return Buffer.from(JSON.stringify(json, null, 2));
}

/**
 * A Hugging Face model folder's config.json, read as `ownlm import`, fine-tuning and preflights read a base
 * model's: as ownlm writes it, and as transformers v5 writes a Mistral (rope_parameters, null optional keys).
 */
export const hfConfigTarget: FuzzTarget = {
  name: 'hf-config',
  fileName: 'config.json',
  async makeSeeds(dir) {
    const file = join(await hfFolder(dir), 'config.json');
    const mistral = editedJson(file, (json) => {
      json.architectures = ['MistralForCausalLM'];
      json.model_type = 'mistral';
      json.rope_parameters = { rope_type: 'default', rope_theta: json.rope_theta };
      delete json.rope_theta;
      delete json.rope_scaling;
      json.sliding_window = null;
      json.head_dim = null;
    });
    return [readFileSync(file), mistral];
  },
  mutators: jsonMutators,
  run(path) {
    readModelConfig(dirname(path));
  },
};

/** A PEFT adapter's adapter_config.json: as ownlm writes it, and with PEFT's other accepted spellings. */
export const peftConfigTarget: FuzzTarget = {
  name: 'peft-adapter-config',
  fileName: 'adapter_config.json',
  async makeSeeds(dir) {
    const file = join(await peftFolder(dir), 'adapter_config.json');
    const allLinear = editedJson(file, (json) => {
      json.target_modules = 'all-linear';
      json.use_rslora = true;
      json.lora_dropout = 0.05;
      json.rank_pattern = {};
      json.alpha_pattern = {};
      json.modules_to_save = [];
      json.layers_to_transform = null;
    });
    return [readFileSync(file), allLinear];
  },
  mutators: jsonMutators,
  run(path) {
    readPeftAdapterConfig(path);
  },
};

const SAMPLE_TEXT = "Anna sees the moon<|im_end|> 'll héllo e\u0301 \u{1d54f}\t\n 12345 ſ <|endoftext|>";

/**
 * tokenizer.json: loading (every field validated), then encoding and decoding a sample with the loaded
 * tokenizer, which must not fail on anything loading let through.
 */
export const tokenizerTarget: FuzzTarget = {
  name: 'tokenizer-json',
  fileName: 'tokenizer.json',
  async makeSeeds(dir) {
    const tiny = await tinyModel(dir);
    const trained = readFileSync(join(tiny.tokenizerDir, 'tokenizer.json'));
    // The same vocabulary in Llama 3's dress: its regex, ignore_merges, a BOS template, nested Sequences.
    const json = JSON.parse(trained.toString('utf8')) as {
      added_tokens: { content: string; id: number }[];
      model: Record<string, unknown>;
      [key: string]: unknown;
    };
    const bos = json.added_tokens[0];
    json.normalizer = { type: 'Sequence', normalizers: [{ type: 'NFC' }] };
    json.pre_tokenizer = {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: LLAMA3_PATTERN }, behavior: 'Isolated', invert: false },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    };
    json.post_processor = {
      type: 'Sequence',
      processors: [
        { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
        {
          type: 'TemplateProcessing',
          single: [{ SpecialToken: { id: bos.content, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
          special_tokens: { [bos.content]: { id: bos.content, ids: [bos.id], tokens: [bos.content] } },
        },
      ],
    };
    json.decoder = { type: 'Sequence', decoders: [{ type: 'ByteLevel' }] };
    json.model.ignore_merges = true;
    const llama3 = Buffer.from(JSON.stringify(json));
    writeFileSync(join(dir, 'tokenizer-llama3.json'), llama3);
    return [trained, llama3];
  },
  mutators: jsonMutators,
  run(path) {
    const tokenizer = Tokenizer.fromJson(readFileSync(path), {}, path);
    const ids = tokenizer.encode(SAMPLE_TEXT);
    tokenizer.decode(ids);
    tokenizer.encode(SAMPLE_TEXT, { parseSpecial: false, addSpecialTokens: false });
  },
};

/** Conversations with a system turn and a masked assistant turn, for the seeds' variety. */
function seedConversations(): Conversation[] {
  const random = new Random(5);
  const conversations = Array.from({ length: 6 }, () => voiceConversation(random));
  conversations[1].messages.unshift({ role: 'system', content: 'You are a pirate.' });
  conversations[2].messages.push(
    { role: 'user', content: 'And then?' },
    { role: 'assistant', content: 'Arr, é 𝕏 <|im_end|>', weight: 0 },
  );
  return conversations;
}

/**
 * Conversation JSONL in the three accepted shapes, through the importer: the dataset upload and `ownlm
 * dataset import` path. Every line is either converted or rejected with its number and a reason.
 */
export const conversationsTarget: FuzzTarget = {
  name: 'conversations-jsonl',
  fileName: 'conversations.jsonl',
  async makeSeeds(dir) {
    const conversations = seedConversations();
    writeConversationDataset(
      join(dir, 'dataset'),
      {
        train: conversations,
        validation: [],
        sourceFormat: 'openai',
        stats: datasetStats(conversations),
        rejected: [],
      },
      { overwrite: true },
    );
    const openai = readFileSync(join(dir, 'dataset', 'train.jsonl'));
    const lines = (convert: (c: Conversation) => unknown) =>
      Buffer.from(conversations.map((c) => JSON.stringify(convert(c))).join('\n') + '\n');
    const sharegpt = lines(({ messages }) => {
      const system = messages.find((m) => m.role === 'system');
      const from = { user: 'human', assistant: 'gpt', system: 'system' } as const;
      return {
        ...(system ? { system: system.content } : {}),
        conversations: messages
          .filter((m) => m !== system)
          .map((m) => ({ from: from[m.role], value: m.content })),
      };
    });
    const alpaca = lines(({ messages }) => {
      const turns = messages.filter((m) => m.role !== 'system');
      const pairs: [string, string][] = [];
      for (let i = 0; i + 1 < turns.length; i += 2) pairs.push([turns[i].content, turns[i + 1].content]);
      const [instruction, output] = pairs.pop()!;
      return { instruction, input: '', output, history: pairs };
    });
    return [openai, sharegpt, alpaca];
  },
  mutators(seeds) {
    const allLines = seeds.flatMap((seed) =>
      new TextDecoder()
        .decode(seed)
        .split('\n')
        .filter((l) => l !== ''),
    );
    return seeds.map((seed) => {
      const mutator = new JsonlMutator(seed, allLines);
      return (random) => mutator.mutate(random);
    });
  },
  async run(path) {
    const { conversations, rejected } = await importConversationsFile(path, { format: 'auto' });
    for (const r of rejected)
      if (!(Number.isInteger(r.line) && r.line > 0 && typeof r.message === 'string' && r.message !== ''))
        throw new Error(`unclear rejection ${JSON.stringify(r)}`);
    for (const { messages } of conversations) {
      const valid = messages.every(
        (m) =>
          ['system', 'user', 'assistant'].includes(m.role) &&
          typeof m.content === 'string' &&
          m.content.trim() !== '',
      );
      if (!valid || !messages.some((m) => m.role === 'assistant'))
        throw new Error(`accepted an invalid conversation ${JSON.stringify(messages).slice(0, 200)}`);
    }
    return rejected.length > 0 ? 'rejected' : undefined;
  },
};

const regressions = fileURLToPath(new URL('./regressions/', import.meta.url));

/** The studio's targets, in report order, with their regression folders (`regressions/<name>/`). */
export const studioTargets: readonly TargetRef[] = [
  ggufTarget,
  safetensorsTarget,
  tokenizerTarget,
  hfConfigTarget,
  peftConfigTarget,
  conversationsTarget,
].map(({ name }) => ({ module: import.meta.url, name, regressions: join(regressions, name) }));
