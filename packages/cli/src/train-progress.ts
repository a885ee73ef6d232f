// Renders training events for a person (a progress bar with step, loss, learning rate, tokens/s and ETA;
// evaluation, samples and checkpoints as lines) and, when asked, as JSON lines for a machine.
import { createWriteStream, type WriteStream } from 'node:fs';
import type { TrainEvent } from '@ownlm/studio';
import { ProgressBar } from './progress-bar.ts';

export interface TrainProgressOptions {
  /** Where machine-readable events go: '-' for stdout, a path for a file, or undefined for none. */
  events?: string;
}

const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(2)} GiB`;

export function trainProgress(options: TrainProgressOptions = {}): {
  onEvent: (event: TrainEvent) => void;
  /** Writes one more JSON event line to the same sink (nothing when events are off). */
  emit: (event: { type: string; [field: string]: unknown }) => void;
  close: () => Promise<void>;
} {
  const sink: NodeJS.WritableStream | WriteStream | null =
    options.events === undefined
      ? null
      : options.events === '-'
        ? process.stdout
        : createWriteStream(options.events, { flags: 'a' });
  // Human output goes to stderr when events use stdout, so the JSON stream stays clean.
  const say = (line: string) => (options.events === '-' ? process.stderr : process.stdout).write(`${line}\n`);
  let bar: ProgressBar | null = null;
  let startStep = 0;
  const emit = (event: { type: string; [field: string]: unknown }) => {
    sink?.write(`${JSON.stringify(event)}\n`);
  };
  const onEvent = (event: TrainEvent) => {
    emit(event);
    switch (event.type) {
      case 'run-start': {
        const p = event.preflight;
        say(
          `  ${(event.parameters / 1e6).toFixed(2)}M parameters; memory ≈ ${gib(p.totalBytes)} of ${gib(p.availableBytes)} available; ≈ ${p.estimatedSecondsPerStep.toFixed(2)} s/step (estimate)`,
        );
        if (event.resumedFrom) say(`  resuming from ${event.resumedFrom} at step ${event.step}`);
        startStep = event.step;
        bar = new ProgressBar({ label: '  train', total: event.steps - startStep, unit: 'step' });
        break;
      }
      case 'train-step':
        bar?.update(
          event.step - startStep,
          `step ${event.step}/${event.steps} loss ${event.loss.toFixed(3)} lr ${event.lr.toExponential(2)} ${event.tokensPerSecond.toFixed(0)} tok/s`,
        );
        break;
      case 'eval-result':
        say(
          `\n  step ${event.step}: validation loss ${event.validationLoss.toFixed(4)} (perplexity ${Math.exp(event.validationLoss).toFixed(2)})`,
        );
        break;
      case 'sample-text':
        say(`  step ${event.step} sample: ${event.prompt}${event.text.replace(/\n/g, '\n    ')}`);
        break;
      case 'checkpoint-rejected':
        say(`  checkpoint ${event.dir} rejected: ${event.reason}; using the previous one`);
        break;
      case 'checkpoint-saved':
        break;
      case 'run-end':
        bar?.finish(`loss ${event.loss.toFixed(3)}`);
        say(`  checkpoint: ${event.checkpoint}`);
        break;
    }
  };
  const close = async () => {
    if (sink && sink !== process.stdout) await new Promise<void>((done) => (sink as WriteStream).end(done));
  };
  return { onEvent, emit, close };
}
