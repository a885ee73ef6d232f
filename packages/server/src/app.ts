// The platform as one Fastify instance: database, model registry, llama.cpp runtime, job workers, the /api
// routes for the web app, the OpenAI-compatible /v1 routes, and the built web app itself. Not listening yet:
// `main.ts` listens; tests use it in-process.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyCookie from '@fastify/cookie';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { requireAccessDeclarations } from './auth/access.ts';
import { registerAuthentication } from './auth/authenticate.ts';
import { configWithDefaults, modelsDirectory, pgliteDirectory, type ServerConfig } from './config.ts';
import type { AppContext } from './context.ts';
import { openDatabase } from './db/database.ts';
import { removeInterruptedUploads } from './datasets/datasets.ts';
import { AppError } from './errors.ts';
import { registerHostCheck } from './host-check.ts';
import { JobHub } from './jobs/events.ts';
import { registerFinetuneOutputs } from './jobs/finetune-outputs.ts';
import { LocalWorkers } from './jobs/local-worker.ts';
import { registerQuickstartModel } from './jobs/quickstart.ts';
import { registerRedteamReport } from './jobs/redteam.ts';
import { Outbound } from './outbound/outbound.ts';
import { ModelRegistry } from './registry/registry.ts';
import { authRoutes } from './routes/auth.ts';
import { chatRoutes } from './routes/chats.ts';
import { datasetRoutes } from './routes/datasets.ts';
import { jobRoutes } from './routes/jobs.ts';
import { keyRoutes } from './routes/keys.ts';
import { modelRoutes } from './routes/models.ts';
import { notificationRoutes } from './routes/notifications.ts';
import { quickstartRoutes } from './routes/quickstart.ts';
import { reportRoutes } from './routes/reports.ts';
import { safetyRoutes } from './routes/safety.ts';
import { v1Routes } from './routes/v1.ts';
import { workerRoutes } from './routes/worker.ts';
import { webhookRoutes } from './routes/webhooks.ts';
import { SafetyPolicies } from './safety/policies.ts';
import { createLlamaRuntime } from './serve/llama-runtime.ts';
import { WebhookDispatcher } from './webhooks/delivery.ts';
import { listenToJobChanges } from './webhooks/job-listener.ts';

const webDist = fileURLToPath(new URL('../../web/dist', import.meta.url));

/** Scripts and styles from this server only; images from https hosts (the Markdown renderer allows those). */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' https: data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Fastify's own errors (body too large, bad JSON, wrong content type) in OpenAI's shape. */
function toAppError(error: FastifyError): AppError {
  if (error instanceof AppError) return error;
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
    return new AppError('payload_too_large', 'the request body is larger than the server accepts');
  if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
    return new AppError('invalid_request', 'send the body as application/json');
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500)
    return new AppError(error.statusCode === 413 ? 'payload_too_large' : 'invalid_request', error.message);
  return new AppError('server_error', 'the server failed; the log has the details');
}

export async function buildApp(options: Partial<ServerConfig> & { home: string }): Promise<FastifyInstance> {
  const config = configWithDefaults(options);
  await removeInterruptedUploads(config.home, new Date());
  const app = Fastify({
    logger: { level: config.logLevel },
    bodyLimit: config.bodyLimitBytes,
    trustProxy: config.trustProxy,
    // Answers stream for minutes; only idle connections are dropped at shutdown.
    forceCloseConnections: 'idle',
  });
  const database = await openDatabase({
    databaseUrl: config.databaseUrl,
    pgliteDirectory: pgliteDirectory(config),
    onIdleError: (error) => app.log.warn(`database connection closed by the server: ${error.message}`),
  });
  const registry = new ModelRegistry(database.db, modelsDirectory(config), (message) =>
    app.log.warn(message),
  );
  await registry.sync();
  const runtime = createLlamaRuntime({
    resolveModel: async (versionId) => {
      try {
        const version = await registry.byVersionId(versionId);
        if (version.kind === 'model') return { path: version.path };
        // An adapter is served on its base with llama.cpp's run-time LoRA.
        const base = await registry.byVersionId(version.baseVersionId!);
        return { path: base.path, adapterPath: version.path };
      } catch {
        return null;
      }
    },
    memoryBudgetBytes: config.memoryBudgetBytes,
    parallelSequences: config.parallelSequences,
    maxQueue: config.maxQueue,
    threads: config.threads,
  });
  const ctx: AppContext = {
    config,
    db: database.db,
    registry,
    runtime,
    jobHub: new JobHub(),
    jobCompletions: {
      finetune: registerFinetuneOutputs,
      quickstart: registerQuickstartModel,
      redteam: registerRedteamReport,
    },
    outbound: new Outbound({ allow: config.outboundAllow }),
    safety: SafetyPolicies.of(database.db),
  };
  app.decorate('ctx', ctx);
  const webhooks = new WebhookDispatcher({
    db: database.db,
    outbound: ctx.outbound,
    backoffMs: config.webhookBackoffMs,
    attempts: config.webhookAttempts,
    log: { warn: (m) => app.log.warn(m), error: (m) => app.log.error(m) },
  });
  const stopListening = listenToJobChanges({ ctx, webhooks, log: app.log });
  webhooks.start();

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const appError = toAppError(error);
    // Refusals (4xx, 501, 503) are the client's to read; only failures of the server are logged as errors.
    if (appError.code === 'server_error') request.log.error(error);
    if (appError.retryAfterSeconds !== null) reply.header('retry-after', String(appError.retryAfterSeconds));
    return reply.status(appError.status).send(appError.toOpenAI());
  });
  registerHostCheck(app, config);
  await app.register(fastifyCookie);
  registerAuthentication(app, database.db);
  app.addHook('onSend', async (_request, reply) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'same-origin');
    if (String(reply.getHeader('content-type') ?? '').startsWith('text/html')) {
      reply.header('content-security-policy', CONTENT_SECURITY_POLICY);
      reply.header('x-frame-options', 'DENY');
    }
  });

  app.decorate('routeAccess', []);
  // Every API route declares who may call it; registering one that does not fails here, at start.
  await app.register(async (api) => {
    requireAccessDeclarations(api, app.routeAccess);
    await api.register(authRoutes(ctx), { prefix: '/api' });
    await api.register(keyRoutes(ctx), { prefix: '/api' });
    await api.register(modelRoutes(ctx), { prefix: '/api' });
    await api.register(chatRoutes(ctx), { prefix: '/api' });
    await api.register(quickstartRoutes(ctx), { prefix: '/api/quickstart' });
    await api.register(datasetRoutes(ctx), { prefix: '/api' });
    await api.register(webhookRoutes(ctx), { prefix: '/api' });
    await api.register(notificationRoutes(ctx), { prefix: '/api' });
    await api.register(reportRoutes(ctx), { prefix: '/api' });
    await api.register(jobRoutes(ctx), { prefix: '/api' });
    await api.register(workerRoutes(ctx), { prefix: '/api' });
    await api.register(safetyRoutes(ctx), { prefix: '/api/admin' });
    await api.register(v1Routes(ctx), { prefix: '/v1' });
  });

  // The web app's own files are public: they are registered outside the scope that requires a policy.
  const webBuilt = existsSync(webDist);
  if (webBuilt)
    await app.register(fastifyStatic, {
      root: webDist,
      wildcard: false,
      setHeaders: (reply, path) =>
        reply.header(
          'cache-control',
          path.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
        ),
    });
  // The web app routes in the browser: any other page path gets index.html; API paths get a JSON 404.
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]!;
    if (request.method === 'GET' && webBuilt && !path.startsWith('/api/') && !path.startsWith('/v1/'))
      return reply.header('cache-control', 'no-cache').sendFile('index.html');
    const notFound = new AppError('not_found', `${request.method} ${path} does not exist`);
    return reply.status(notFound.status).send(notFound.toOpenAI());
  });

  // Shutdown: jobs run in child processes, which are stopped and their jobs released to the queue; running
  // generations are cancelled (their partial answers are saved); the database closes once every request has ended.
  const workers = new LocalWorkers({
    ctx,
    count: config.jobWorkers,
    leaseMs: config.jobLeaseMs,
    log: app.log,
  });
  workers.start();
  app.addHook('preClose', async () => {
    await workers.stop();
    await stopListening();
    await webhooks.stop();
    await runtime.close();
  });
  app.addHook('onClose', async () => {
    await database.close();
  });
  return app;
}
