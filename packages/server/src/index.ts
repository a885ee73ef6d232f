// The platform package: the app for embedding and tests, and the command-line entry.
export { buildApp } from './app.ts';
export { loadConfig, type ServerConfig } from './config.ts';
export { main } from './main.ts';
// The llama.cpp runtime, for commands that run a GGUF the way the server serves it (`ownlm redteam --gguf`).
export { createLlamaRuntime } from './serve/llama-runtime.ts';
// The job manager's parts other modules and `ownlm worker` use.
export { runJobCommand, type CommandOutcome, type CommandRun } from './jobs/child.ts';
export { JOB_TYPES } from './jobs/job-types.ts';
export type { JobCompletion } from './jobs/completion.ts';
export type { JobChange, JobEventInput, JobEventView } from './jobs/events.ts';
export { eventStore } from './jobs/local-worker.ts';
export type { JobView } from './jobs/view.ts';
