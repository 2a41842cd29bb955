import express, { type Express, type Request, type Response } from 'express';
import type { Registry } from 'prom-client';
import { isThreatRelayError, ThreatRelayError } from '../contract/errors';
import type { ConsoleSettings } from '../platform/config/config';
import { errorBody, errorMiddleware, notFound, OPS_ROUTES, opsRouter } from '../platform/http';
import type { Logger } from '../platform/logger';
import type { AuthFailureBudget } from '../platform/rate-limit';
import { SCRIPT, STYLE } from './assets';
import type { ReplaySummary } from '../subscriber';
import { requireOperator } from './auth';

/**
 * The console's routes. `/healthz`, `/readyz` and `/metrics` answer without
 * credentials like every service's; everything else needs an operator.
 */

export interface ConsoleRoutes {
  settings: Pick<ConsoleSettings, 'operators'> & AuthFailureBudget;
  page(): string;
  /** Every section, for a client that just connected. */
  sections(): Record<string, string>;
  /** Adds a listener for changed sections; returns its removal. */
  subscribe(send: (sections: Record<string, string>) => void): () => void;
  hasSubscription(id: string): boolean;
  replay(id: string): Promise<ReplaySummary>;
  ready(): Promise<unknown>;
  metrics: Registry;
  logger: Logger;
}

/** Open event streams at most: each costs a socket, not a Kafka request. */
export const MAX_STREAMS = 100;

const SECURITY_HEADERS = {
  // Only the console's own script and style; nothing from anywhere else.
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

/** A replay changes things: only the page's own script may ask (a custom header forces a CORS preflight nobody answers). */
function sameOriginScript(req: Request): boolean {
  const site = req.headers['sec-fetch-site'];
  return req.headers['x-threatrelay-console'] === '1' && (site === undefined || site === 'same-origin');
}

function eventStream(routes: ConsoleRoutes, open: { count: number }) {
  return (req: Request, res: Response): void => {
    if (open.count >= MAX_STREAMS) {
      res.status(503).type('text/plain').send('too many open event streams\n');
      return;
    }
    open.count += 1;
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': 'text/event-stream; charset=utf-8',
      connection: 'keep-alive',
    });
    const send = (sections: Record<string, string>): void =>
      void res.write(`event: sections\ndata: ${JSON.stringify(sections)}\n\n`);
    res.write('retry: 3000\n\n');
    send(routes.sections());
    const unsubscribe = routes.subscribe(send);
    req.on('close', () => {
      open.count -= 1;
      unsubscribe();
    });
  };
}

export function createConsoleApp(routes: ConsoleRoutes): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(opsRouter(routes));
  app.use(requireOperator(routes.settings));
  app.use((_req, res, next) => {
    res.set(SECURITY_HEADERS);
    next();
  });
  app.get('/', (_req, res) => void res.type('html').send(routes.page()));
  app.get('/console.js', (_req, res) => void res.type('text/javascript').send(SCRIPT));
  app.get('/console.css', (_req, res) => void res.type('text/css').send(STYLE));
  app.get('/events', eventStream(routes, { count: 0 }));
  app.post('/api/subscriptions/:id/replay', async (req, res, next) => {
    const id = String(req.params.id);
    if (!sameOriginScript(req)) {
      next(new ThreatRelayError('TR_FORBIDDEN', 'a replay is asked for by the console page only'));
      return;
    }
    if (!routes.hasSubscription(id)) {
      next(new ThreatRelayError('TR_NOT_FOUND', `no subscription "${id}" in the config`));
      return;
    }
    try {
      res.json(await routes.replay(id));
    } catch (err) {
      routes.logger.error({ err, subscription: id }, 'replay from the console failed');
      // The replay itself failed (its endpoint is gone, Kafka is away): a bad gateway, said with its code.
      const error = isThreatRelayError(err)
        ? err
        : new ThreatRelayError('TR_KAFKA_UNAVAILABLE', 'the replay could not finish', { cause: err });
      res.status(502).json(errorBody(error));
    }
  });
  app.use(
    notFound({
      ...OPS_ROUTES,
      '/': ['GET'],
      '/console.js': ['GET'],
      '/console.css': ['GET'],
      '/events': ['GET'],
    }),
  );
  app.use(errorMiddleware(routes.logger));
  return app;
}
