// The platform package: the app for embedding and tests, and the command-line entry.
export { buildApp } from './app.ts';
export { loadConfig, type ServerConfig } from './config.ts';
export { main } from './main.ts';
