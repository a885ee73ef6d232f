// The audit log: every admin action and security event as an append-only row (who, what, on which object, from
// which address, when). Domain functions record their own actions here; rows are never changed or deleted.
import type { FastifyRequest } from 'fastify';
import type { AppContext } from '../context.ts';
import { auditLog } from '../db/schema.ts';

/** The events the log records, `<noun>.<verb>`. */
export type AuditAction =
  | 'session.signed-in'
  | 'session.sign-in-failed'
  | 'session.signed-out-everywhere'
  | 'account.registered'
  | 'account.password-changed'
  | 'account.password-reset'
  | 'account.role-changed'
  | 'account.sessions-ended'
  | 'invitation.created'
  | 'invitation.revoked'
  | 'invitation.accepted'
  | 'group.created'
  | 'group.changed'
  | 'group.deleted'
  | 'group.member-added'
  | 'group.member-removed'
  | 'api-key.created'
  | 'api-key.revoked'
  | 'worker-token.created'
  | 'worker-token.revoked'
  | 'credits.adjusted'
  | 'price.changed'
  | 'setting.changed'
  | 'conversation.reviewed'
  | 'flag.resolved'
  | 'model.published'
  | 'alias.changed'
  | 'canary.changed'
  | 'canary.promoted'
  | 'canary.rolled-back'
  | 'safety.policy-changed';

export interface AuditEntry {
  /** Who did it; null for the platform itself (an automatic rollback, a failed sign-in by nobody known). */
  actorId: string | null;
  action: AuditAction;
  target?: { type: string; id: string };
  /** The client's address (behind a trusted proxy, the one it forwarded). */
  address?: string | null;
  details?: Record<string, unknown>;
}

/** Appends one row. Callers pass no secrets in `details`: the log is shown to every admin and exported. */
export async function recordAudit(ctx: Pick<AppContext, 'db'>, entry: AuditEntry): Promise<void> {
  await ctx.db.insert(auditLog).values({
    actorId: entry.actorId,
    action: entry.action,
    targetType: entry.target?.type ?? null,
    targetId: entry.target?.id ?? null,
    address: entry.address ?? null,
    details: entry.details ?? {},
  });
}

/** The address to record for a request. */
export const requestAddress = (request: FastifyRequest): string => request.ip;
