// Entry of the document worker threads. A worker does not inherit the TypeScript loader of the thread that
// started it (tests run under `node --import tsx`, the CLI registers tsx itself), so it registers tsx here,
// resolved from this file rather than the working directory, and then loads the TypeScript module.
import { register } from 'tsx/esm/api';

register();
await import('./document-worker.ts');
