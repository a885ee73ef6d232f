// The finetune job's completion handler: a finished fine-tune's outputs into the registry, before its job is
// marked succeeded: the GGUF LoRA adapter as a version of kind `adapter` on the base version, the merged GGUF
// (when the run made one) as a whole model, both with lineage (base, dataset, job, hyperparameters, metrics),
// and report.json in eval_reports.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FinetuneReport } from '@ownlm/studio';
import { eq } from 'drizzle-orm';
import type { AppContext } from '../context.ts';
import { datasets } from '../db/schema.ts';
import { saveReport } from '../reports/reports.ts';
import type { JobView } from './view.ts';

/** A JSON object read from a job's file; a failure names the file. */
export function readJson(path: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(`${what} ${path} cannot be read: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new Error(`${what} ${path} is not a JSON object`);
  return value as Record<string, unknown>;
}

/** The report.json fields the API promises, checked before the report is stored. */
function checkReport(value: Record<string, unknown>, path: string): FinetuneReport {
  const perplexity = value.perplexity as Record<string, unknown> | undefined;
  const heldOut = value.heldOut as Record<string, unknown> | undefined;
  const problems = [
    typeof value.baseModel === 'string' ? null : 'baseModel',
    typeof value.tunedModel === 'string' ? null : 'tunedModel',
    typeof value.dataset === 'string' ? null : 'dataset',
    typeof heldOut?.conversations === 'number' && typeof heldOut.assistantTokens === 'number'
      ? null
      : 'heldOut',
    typeof perplexity?.base === 'number' && typeof perplexity.tuned === 'number' ? null : 'perplexity',
    Array.isArray(value.scenarios) ? null : 'scenarios',
  ].filter((p) => p !== null);
  if (problems.length > 0)
    throw new Error(`report ${path}: field ${problems[0]} is missing or of the wrong type`);
  return value as unknown as FinetuneReport;
}

/** A registry model name from free text: letters, digits, '.', '_', '-', at most 64, starting with one of the first two. */
function modelName(text: string): string {
  const name = text
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 64);
  return name === '' ? 'finetune' : name;
}

/**
 * Registers what a finetune job made (`artifacts`: the files its result names, as stored under its run folder);
 * returns what goes into its result. The model is named after the job, or `<dataset>-lora` (`-full`) when the
 * job kept its default name; each run adds a version to that model.
 */
export async function registerFinetuneOutputs(options: {
  ctx: AppContext;
  job: JobView;
  artifacts: Record<string, string>;
}): Promise<Record<string, unknown>> {
  const { ctx, job, artifacts } = options;
  const baseVersionId = String(job.params.base);
  const base = await ctx.registry.byVersionId(baseVersionId);
  const [dataset] = await ctx.db
    .select({ id: datasets.id, name: datasets.name })
    .from(datasets)
    .where(eq(datasets.id, String(job.params.dataset)));
  const method = job.params.method === 'full' ? 'full' : 'lora';
  const name = modelName(job.name !== job.type ? job.name : `${dataset?.name ?? 'dataset'}-${method}`);

  const reportPath = artifacts.report ?? (artifacts.out ? join(artifacts.out, 'report.json') : null);
  if (!reportPath || !existsSync(reportPath)) throw new Error('the run left no report.json');
  const report = checkReport(readJson(reportPath, 'report'), reportPath);
  const lineagePath = artifacts.out ? join(artifacts.out, 'lineage.json') : null;
  const runLineage = lineagePath && existsSync(lineagePath) ? readJson(lineagePath, 'lineage') : {};
  const lineage = {
    base: base.versionId,
    baseModel: `${base.name}:${base.version}`,
    dataset: dataset?.id ?? String(job.params.dataset),
    datasetName: dataset?.name ?? null,
    job: job.id,
    method,
    hyperparameters: runLineage.hyperparameters ?? job.params,
    metrics: runLineage.metrics ?? { perplexity: report.perplexity, heldOut: report.heldOut },
  };

  const { adapterGguf, mergedGguf } = artifacts;
  if (method === 'lora' && !adapterGguf) throw new Error('the LoRA run reported no adapterGguf');
  const adapter = adapterGguf
    ? await ctx.registry.registerAdapter({
        path: adapterGguf,
        name,
        baseVersionId: base.versionId,
        lineage,
        ownerId: job.userId,
      })
    : null;
  const merged = mergedGguf
    ? await ctx.registry.importFile(mergedGguf, {
        name: adapter ? `${name}-merged` : name,
        lineage: { ...lineage, ...(adapter ? { adapter: adapter.versionId } : {}) },
        ownerId: job.userId,
      })
    : null;
  const tuned = adapter ?? merged;
  if (!tuned) throw new Error('the run reported neither an adapter nor a merged model');
  const reportId = await saveReport(ctx.db, {
    userId: job.userId,
    jobId: job.id,
    versionId: tuned.versionId,
    baseVersionId: base.versionId,
    report,
  });
  return {
    adapterVersionId: adapter?.versionId ?? null,
    mergedVersionId: merged?.versionId ?? null,
    reportId,
    model: `${tuned.name}:${tuned.version}`,
  };
}
