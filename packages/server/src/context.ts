// What every route plugin is given: the validated configuration, the database, the model registry, the
// runtime that serves the registry's versions, the app's jobs' hub and completion handlers, the one way to
// fetch a URL, and the safety policies in force. Built once by buildApp; nothing in it is shared with another
// app in the same process.
import type { ServerConfig } from './config.ts';
import type { Database } from './db/database.ts';
import type { JobCompletions } from './jobs/completion.ts';
import type { JobHub } from './jobs/events.ts';
import type { Outbound } from './outbound/outbound.ts';
import type { ModelRegistry } from './registry/registry.ts';
import type { SafetyPolicies } from './safety/policies.ts';
import type { Runtime } from './serve/runtime.ts';

export interface AppContext {
  config: ServerConfig;
  db: Database;
  registry: ModelRegistry;
  runtime: Runtime;
  /** Announces every change to this app's jobs (SSE streams, local workers, webhooks, notifications). */
  jobHub: JobHub;
  /** What runs when a job of each type succeeds, before it is marked succeeded. */
  jobCompletions: JobCompletions;
  /** Every request the server makes to a URL goes through it (the admin's allow-list applied). */
  outbound: Outbound;
  /** The enabled safety policies, cached; every generation runs under the one in force for its model. */
  safety: SafetyPolicies;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The app's context, for tests and embedders (route plugins are given it when registered). */
    ctx: AppContext;
  }
}
