// The server's checks of a model file as a fuzz target (studio/src/fuzz): every GGUF the registry registers or
// the runtime loads passes them before llama.cpp sees it, so they must refuse any file with an AppError that
// names it, quickly and without large allocations. The inputs are the studio GGUF target's mutants.
import { fileURLToPath } from 'node:url';
import { isTypedError, type FuzzTarget, type TargetRef } from '../../../studio/src/fuzz/harness.ts';
import { ggufTarget } from '../../../studio/src/fuzz/targets.ts';
import { quantizationOf } from '../registry/quantization.ts';
import { inspectAdapterFile, inspectModelFile, residentBytes } from '../serve/model-file.ts';

/**
 * As the registry and the runtime read a file: as an adapter, as a model (with the memory it would take) and for
 * its quantization label. It is accepted when it passes as a model or as an adapter.
 */
export const modelFileTarget: FuzzTarget = {
  ...ggufTarget,
  name: 'model-file',
  run(path) {
    const rejection = (check: () => unknown): unknown => {
      try {
        check();
        return null;
      } catch (error) {
        if (!isTypedError(error)) throw error;
        return error;
      }
    };
    const asAdapter = rejection(() => inspectAdapterFile(path));
    const asModel = rejection(() => residentBytes(inspectModelFile(path), 2048, 4));
    const label = rejection(() => quantizationOf(path));
    if (label) throw label;
    if (asAdapter && asModel) throw asModel;
  },
};

export const modelFileTargetRef: TargetRef = {
  module: import.meta.url,
  name: modelFileTarget.name,
  regressions: fileURLToPath(new URL('../serve/fuzz-regressions/', import.meta.url)),
};
