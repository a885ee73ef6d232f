// The admins' safety API under /api/admin: safety policies (list, create, change, delete) and the flag queue
// (what the policies blocked, flagged or warned about: list with counts, mark reviewed).
import type { FastifyPluginAsync } from 'fastify';
import { access } from '../auth/access.ts';
import { actorOf } from '../auth/actor.ts';
import type { AppContext } from '../context.ts';
import { listFlags, parseFlagFilter, reviewFlag } from '../safety/flags.ts';
import {
  createSafetyPolicy,
  deleteSafetyPolicy,
  listSafetyPolicies,
  updateSafetyPolicy,
} from '../safety/policies.ts';

type ById = { Params: { id: string } };

export function safetyRoutes(ctx: AppContext): FastifyPluginAsync {
  return async (app) => {
    app.get('/safety/policies', access('admin'), async (request) =>
      listSafetyPolicies({ ctx, actor: actorOf(request) }),
    );

    app.post('/safety/policies', access('admin'), async (request, reply) => {
      const policy = await createSafetyPolicy({ ctx, actor: actorOf(request), body: request.body });
      return reply.status(201).send({ policy });
    });

    app.patch<ById>('/safety/policies/:id', access('admin'), async (request) => ({
      policy: await updateSafetyPolicy({
        ctx,
        actor: actorOf(request),
        policyId: request.params.id,
        body: request.body,
      }),
    }));

    app.delete<ById>('/safety/policies/:id', access('admin'), async (request, reply) => {
      await deleteSafetyPolicy({ ctx, actor: actorOf(request), policyId: request.params.id });
      return reply.status(204).send();
    });

    app.get<{ Querystring: Record<string, unknown> }>('/flags', access('admin'), async (request) =>
      listFlags({ ctx, actor: actorOf(request), filter: parseFlagFilter(request.query) }),
    );

    app.patch<ById & { Body: { reviewed?: unknown } }>('/flags/:id', access('admin'), async (request) => ({
      flag: await reviewFlag({
        ctx,
        actor: actorOf(request),
        flagId: request.params.id,
        reviewed: request.body?.reviewed,
      }),
    }));
  };
}
