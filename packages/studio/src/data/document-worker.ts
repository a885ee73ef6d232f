// Worker-thread side of the document pool: builds a processor from workerData, says 'ready', then answers each
// batch message with its processed batch (signatures transferred, not copied).
import { parentPort, workerData } from 'node:worker_threads';
import { DocumentProcessor, type DocumentBatch, type ProcessorConfig } from './process-document.ts';

const processor = new DocumentProcessor(workerData as ProcessorConfig);
const port = parentPort;
if (!port) throw new Error('document-worker.ts must run in a worker thread');
port.on('message', (batch: DocumentBatch) => {
  const result = processor.processBatch(batch);
  port.postMessage(result, [result.signatures.buffer]);
});
port.postMessage('ready');
