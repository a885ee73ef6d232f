// Runs the studio's fine-tune preflight (it reads the base model and encodes the dataset, seconds of work)
// in a worker thread, off the server's event loop. Plain JavaScript: it registers tsx for the studio's sources.
import { parentPort, workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const { finetunePreflight } = await import('@ownlm/studio');
try {
  parentPort.postMessage({ estimate: finetunePreflight(workerData) });
} catch (error) {
  parentPort.postMessage({ error: error.message });
}
