// What every route plugin is given: the validated configuration, the database, the model registry and the
// runtime that serves the registry's versions. Built once by buildApp.
import type { ServerConfig } from './config.ts';
import type { Database } from './db/database.ts';
import type { ModelRegistry } from './registry/registry.ts';
import type { Runtime } from './serve/runtime.ts';

export interface AppContext {
  config: ServerConfig;
  db: Database;
  registry: ModelRegistry;
  runtime: Runtime;
}
