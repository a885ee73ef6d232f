// Worker thread of prepareCorpus: processes the document batches it is sent (see prepare.ts); each batch's
// MinHash signatures are moved to the calling thread, not copied.
import { workerData } from 'node:worker_threads';
import {
  DocumentProcessor,
  type DocumentBatch,
  type ProcessedBatch,
  type ProcessorConfig,
} from './process-document.ts';
import { serveRequests } from './worker-pool.ts';

const processor = new DocumentProcessor(workerData as ProcessorConfig);
serveRequests(
  (batch): ProcessedBatch => processor.processBatch(batch as DocumentBatch),
  (result) => [result.signatures.buffer],
);
