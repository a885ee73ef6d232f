// Sign-up, sign-in, sign-out (here or everywhere), password change and the current session, for the web app.
// The session cookie is HttpOnly and SameSite=Lax, and Secure under HTTPS — also behind a TLS-terminating proxy
// when the server trusts it (`--trust-proxy`, which reads X-Forwarded-Proto) — or always/never as configured.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { changePassword, registerUser, signIn, signOutEverywhere } from '../auth/accounts.ts';
import { actorOf } from '../auth/actor.ts';
import { createSession, deleteSession, SESSION_COOKIE, type SessionUser } from '../auth/sessions.ts';
import type { AppContext } from '../context.ts';
import { access } from '../auth/access.ts';

export function authRoutes(ctx: AppContext): FastifyPluginAsync {
  const secure = (request: FastifyRequest) =>
    ctx.config.secureCookies === 'always' ||
    (ctx.config.secureCookies === 'auto' && request.protocol === 'https');

  async function startSession(request: FastifyRequest, reply: FastifyReply, user: SessionUser) {
    const session = await createSession(ctx.db, user.id, ctx.config.sessionDays);
    reply.setCookie(SESSION_COOKIE, session.token, {
      path: '/',
      httpOnly: true,
      sameSite: 'lax',
      secure: secure(request),
      expires: session.expiresAt,
    });
    return { user, csrfToken: session.csrfToken };
  }

  return async (app) => {
    app.get('/session', access('anonymous'), async (request) => ({
      user: request.session?.user ?? null,
      csrfToken: request.session?.csrfToken ?? null,
    }));
    app.post('/auth/register', access('anonymous'), async (request, reply) => {
      const user = await registerUser(ctx.db, request.body);
      request.log.info({ userId: user.id, role: user.role }, 'account registered');
      return reply.status(201).send(await startSession(request, reply, user));
    });
    app.post('/auth/login', access('anonymous'), async (request, reply) => {
      const user = await signIn(ctx.db, request.body);
      return startSession(request, reply, user);
    });
    app.post('/auth/logout', access('anonymous'), async (request, reply) => {
      if (request.session) await deleteSession(ctx.db, request.session.tokenHash);
      reply.clearCookie(SESSION_COOKIE, { path: '/' });
      return reply.status(204).send();
    });
    app.post('/auth/logout-everywhere', access('user'), async (request, reply) => {
      await signOutEverywhere({ ctx, actor: actorOf(request) });
      reply.clearCookie(SESSION_COOKIE, { path: '/' });
      return reply.status(204).send();
    });
    app.post('/auth/password', access('user'), async (request, reply) => {
      await changePassword({ ctx, actor: actorOf(request), session: request.session, body: request.body });
      return reply.status(204).send();
    });
  };
}
