// The redteam job's completion handler: the run's redteam-report.json, checked, into eval_reports as a report of
// kind `redteam` on the version it tested, so its owner reads and downloads it like a fine-tune's
// (GET /api/reports/:id, .md, .html).
import { join } from 'node:path';
import { redteamReportFiles, type RedteamReport } from '@ownlm/studio';
import { saveReport } from '../reports/reports.ts';
import type { JobCompletion } from './completion.ts';
import { readJson } from './finetune-outputs.ts';

/** The report fields the renderers read, checked before the report is stored. */
function checkReport(value: Record<string, unknown>, path: string): RedteamReport {
  const counts = (key: string) => {
    const c = value[key] as Record<string, unknown> | undefined;
    return typeof c?.prompts === 'number' ? null : key;
  };
  const problems = [
    typeof value.model === 'string' ? null : 'model',
    counts('attacks'),
    counts('benign'),
    Array.isArray(value.categories) ? null : 'categories',
    Array.isArray(value.examples) ? null : 'examples',
    Array.isArray(value.results) ? null : 'results',
  ].filter((p) => p !== null);
  if (problems.length > 0)
    throw new Error(`report ${path}: field ${problems[0]} is missing or of the wrong type`);
  return value as unknown as RedteamReport;
}

export const registerRedteamReport: JobCompletion = async ({ ctx, job, artifacts }) => {
  if (!artifacts.out) throw new Error('the run reported no report folder');
  const path = join(artifacts.out, redteamReportFiles.json);
  const report = checkReport(readJson(path, 'report'), path);
  const reportId = await saveReport(ctx.db, {
    userId: job.userId,
    jobId: job.id,
    versionId: String(job.params.model),
    baseVersionId: null,
    kind: 'redteam',
    report,
  });
  return { reportId };
};
