// Job reports, stored in eval_reports and shown to their owner as JSON, or as a Markdown or self-contained HTML
// download rendered by the studio: a fine-tune's before/after evaluation (STUDIO-API.md `report`), or a red-team
// run's outcomes (redteam-report.json).
import {
  renderFinetuneReportHtml,
  renderFinetuneReportMarkdown,
  renderRedteamHtml,
  renderRedteamMarkdown,
  type FinetuneReport,
  type RedteamReport,
} from '@ownlm/studio';
import { and, eq } from 'drizzle-orm';
import type { Actor } from '../auth/actor.ts';
import type { AppContext } from '../context.ts';
import type { Database } from '../db/database.ts';
import { evalReports } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { newId } from '../ids.ts';

/** A report's kind and content (a fine-tune's when the kind is left out). */
export type ReportContent =
  { kind?: 'finetune'; report: FinetuneReport } | { kind: 'redteam'; report: RedteamReport };

export type ReportView = {
  id: string;
  jobId: string | null;
  versionId: string | null;
  baseVersionId: string | null;
  createdAt: Date;
} & ReportContent;

/** Stores a job's report; returns its id. */
export async function saveReport(
  db: Database,
  report: {
    userId: string;
    jobId: string;
    versionId: string;
    baseVersionId: string | null;
  } & ReportContent,
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
      `report ${options.reportId} does not exist; a fine-tune or red-team job's result names its report`,
    );
  const content: ReportContent =
    row.kind === 'redteam'
      ? { kind: 'redteam', report: row.report as unknown as RedteamReport }
      : { kind: 'finetune', report: row.report as unknown as FinetuneReport };
  return {
    id: row.id,
    jobId: row.jobId,
    versionId: row.versionId,
    baseVersionId: row.baseVersionId,
    createdAt: row.createdAt,
    ...content,
  };
}

/** The report as a download: Markdown or HTML (every value escaped by the renderer). */
export function renderReport(content: ReportContent, format: 'md' | 'html'): string {
  if (content.kind === 'redteam')
    return format === 'md' ? renderRedteamMarkdown(content.report) : renderRedteamHtml(content.report);
  return format === 'md'
    ? renderFinetuneReportMarkdown(content.report)
    : renderFinetuneReportHtml(content.report);
}
