// The CPU-heavy part of the pipeline for one document: normalize, filter, hash, MinHash and PII scrub. It runs in
// worker threads (document-worker.ts) or, with `workers: 0`, on the calling thread; both give identical results.
import { createHash } from 'node:crypto';
import { DocumentFilter, type FilterOptions, type FilterVerdict } from './filters.ts';
import { MinHasher, type MinHashOptions } from './minhash.ts';
import { normalizeText, type DocumentKind } from './normalize.ts';
import { emptyPiiCounts, scrubPii, type PiiCounts } from './pii.ts';

export interface ProcessorConfig {
  filters: FilterOptions;
  minhash: MinHashOptions;
  /** Compute signatures at all (near dedup enabled). */
  signatures: boolean;
  scrubPii: boolean;
}

/** What the pipeline needs to know about one document after the per-document stages. */
export interface ProcessedDocument {
  rawBytes: number;
  normalizedBytes: number;
  /** Normalization changed the text. */
  changed: boolean;
  /** Detected language, or 'code'. */
  language: string;
  /** Why the filters removed it; null when kept. Fields below are only set for kept documents. */
  verdict: FilterVerdict | null;
  /** SHA-1 (hex) of the normalized text: exact-dedup key, document id (first 16 digits) and split key. */
  hash: string;
  /** Characters of the normalized text (the length used by keep: 'longest'). */
  length: number;
  /** The output JSONL line (no newline): {"id", "source", "text"} with the normalized, scrubbed text. */
  record: string;
  scrubbedBytes: number;
  pii: PiiCounts | null;
}

export interface DocumentBatch {
  texts: string[];
  kinds: DocumentKind[];
  sources: string[];
}

export interface ProcessedBatch {
  documents: ProcessedDocument[];
  /** Signatures of the kept documents, in order, `permutations` values each. */
  signatures: Uint32Array<ArrayBuffer>;
}

export class DocumentProcessor {
  private readonly filter: DocumentFilter;
  private readonly hasher: MinHasher;

  constructor(private readonly config: ProcessorConfig) {
    this.filter = new DocumentFilter(config.filters);
    this.hasher = new MinHasher(config.minhash);
  }

  processBatch({ texts, kinds, sources }: DocumentBatch): ProcessedBatch {
    const permutations = this.config.signatures ? this.hasher.permutations : 0;
    const signatures = new Uint32Array(texts.length * permutations);
    let kept = 0;
    const documents = texts.map((raw, i) => {
      const document = this.process(raw, kinds[i], sources[i], signatures, kept * permutations);
      if (document.verdict === null) kept += 1;
      return document;
    });
    return { documents, signatures: signatures.slice(0, kept * permutations) };
  }

  /** Runs the stages on one document; a kept one gets its signature written at `signatures[offset]`. */
  private process(
    raw: string,
    kind: DocumentKind,
    source: string,
    signatures: Uint32Array,
    offset: number,
  ): ProcessedDocument {
    const text = normalizeText(raw, kind);
    const rawBytes = Buffer.byteLength(raw);
    const changed = text !== raw;
    const normalizedBytes = changed ? Buffer.byteLength(text) : rawBytes;
    const { verdict, language } = this.filter.check(text, kind);
    if (verdict) {
      return {
        rawBytes,
        normalizedBytes,
        changed,
        language,
        verdict,
        hash: '',
        length: 0,
        record: '',
        scrubbedBytes: 0,
        pii: null,
      };
    }
    const hash = createHash('sha1').update(text).digest('hex');
    // Signatures and hashes see the text before scrubbing, so two copies differing only in an e-mail address
    // are still near duplicates.
    if (this.config.signatures) this.hasher.signature(text, signatures, offset);
    const pii = this.config.scrubPii ? emptyPiiCounts() : null;
    const scrubbed = pii ? scrubPii(text, pii) : text;
    const scrubbedBytes = scrubbed === text ? normalizedBytes : Buffer.byteLength(scrubbed);
    // Serialized here rather than on the main thread, the one sequential part of the pipeline.
    const record = JSON.stringify({ id: hash.slice(0, 16), source, text: scrubbed });
    return {
      rawBytes,
      normalizedBytes,
      changed,
      language,
      verdict,
      hash,
      length: text.length,
      record,
      scrubbedBytes,
      pii,
    };
  }
}
