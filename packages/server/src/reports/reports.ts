// Before/after evaluation reports of fine-tunes (STUDIO-API.md `report`), stored in eval_reports and shown to
// their owner as JSON, or as a Markdown or self-contained HTML download rendered by the studio.
import { renderFinetuneReportHtml, renderFinetuneReportMarkdown, type FinetuneReport } from '@ownlm/studio';
import { and, eq } from 'drizzle-orm';
import type { Actor } from '../auth/actor.ts';
import type { AppContext } from '../context.ts';
import type { Database } from '../db/database.ts';
import { evalReports } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { newId } from '../ids.ts';

export interface ReportView {
  id: string;
  jobId: string | null;
  versionId: string | null;
  baseVersionId: string | null;
  report: FinetuneReport;
  createdAt: Date;
}

/** Stores a fine-tune's report; returns its id. */
export async function saveReport(
  db: Database,
  report: {
    userId: string;
    jobId: string;
    versionId: string;
    baseVersionId: string;
    report: FinetuneReport;
  },
): Promise<string> {
  const id = newId('rep');
  await db.insert(evalReports).values({ id, ...report, report: { ...report.report } });
  return id;
}

export async function getReport(options: {
  ctx: AppContext;
  actor: Actor;
  reportId: string;
}): Promise<ReportView> {
  const [row] = await options.ctx.db
    .select()
    .from(evalReports)
    .where(and(eq(evalReports.id, options.reportId), eq(evalReports.userId, options.actor.userId)));
  if (!row)
    throw new AppError(
      'not_found',
      `report ${options.reportId} does not exist; a fine-tune job's result names its report`,
    );
  return {
    id: row.id,
    jobId: row.jobId,
    versionId: row.versionId,
    baseVersionId: row.baseVersionId,
    report: row.report as unknown as FinetuneReport,
    createdAt: row.createdAt,
  };
}

/** The report as a download: Markdown or HTML (every value escaped by the renderer). */
export function renderReport(report: FinetuneReport, format: 'md' | 'html'): string {
  return format === 'md' ? renderFinetuneReportMarkdown(report) : renderFinetuneReportHtml(report);
}
