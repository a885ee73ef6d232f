// Chooses the backend: the native addon when it was built, otherwise the reference backend with a one-line
// warning. OWNLM_BACKEND=reference forces the reference backend; OWNLM_THREADS sets the native thread count.
import type { Backend } from './backend.ts';
import { createReferenceBackend } from './reference.ts';
import { loadNativeBackend } from './native.ts';

export type { Backend, GemmParams, AttentionShape } from './backend.ts';
export { createReferenceBackend } from './reference.ts';
export { loadNativeBackend } from './native.ts';

let current: Backend | undefined;

export function backend(): Backend {
  if (current) return current;
  const wanted = process.env.OWNLM_BACKEND;
  if (wanted === 'reference') {
    current = createReferenceBackend();
  } else {
    const native = loadNativeBackend();
    if (native) current = native;
    else {
      if (wanted === 'native')
        throw new Error('OWNLM_BACKEND=native but the native addon is not built; run `npm install`.');
      console.warn(
        'ownlm: native addon not built; using the slow TypeScript reference backend (run `npm install` with g++ available).',
      );
      current = createReferenceBackend();
    }
  }
  const threads = Number(process.env.OWNLM_THREADS);
  if (Number.isInteger(threads) && threads > 0) current.setThreads(threads);
  return current;
}

/** Replaces the process-wide backend (tests compare backends; benchmarks pin one). */
export function useBackend(next: Backend): void {
  current = next;
}
