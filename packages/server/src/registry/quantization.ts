// The weight type of a GGUF as people name it (F16, Q8_0, Q4_K_M), from `general.file_type` (llama.cpp's
// LlamaFileType numbering).
import { readGgufHeader } from '@ownlm/studio';

const FILE_TYPES: Record<number, string> = {
  0: 'F32',
  1: 'F16',
  2: 'Q4_0',
  3: 'Q4_1',
  7: 'Q8_0',
  8: 'Q5_0',
  9: 'Q5_1',
  10: 'Q2_K',
  11: 'Q3_K_S',
  12: 'Q3_K_M',
  13: 'Q3_K_L',
  14: 'Q4_K_S',
  15: 'Q4_K_M',
  16: 'Q5_K_S',
  17: 'Q5_K_M',
  18: 'Q6_K',
  32: 'BF16',
};

/** The file's quantization name, or null when the file does not say (or says something unknown). */
export function quantizationOf(path: string): string | null {
  const entry = readGgufHeader(path).metadata.get('general.file_type');
  if (entry === undefined || entry.type === 'array') return null;
  return FILE_TYPES[Number(entry.value)] ?? null;
}
