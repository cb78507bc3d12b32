import fastifySwagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import { createJsonSchemaTransform, jsonSchemaTransform } from 'fastify-type-provider-zod';
import { VERSION } from '../version.js';

export const OPENAPI_PATH = '/api/openapi.json';
export const DOCS_PATH = '/api/docs';
const DOCS_ROUTES = [OPENAPI_PATH, DOCS_PATH, `${DOCS_PATH}/docs.js`, `${DOCS_PATH}/docs.css`];

/** The prefixes whose routes the reference lists; the UI's static files are left out. */
const DOCUMENTED = ['/api/', '/ajax-api/', '/get-artifact', '/model-versions/get-artifact', '/health', '/version'];

const TAGS = [
  { name: 'experiments', description: 'MLflow experiments' },
  { name: 'runs', description: 'MLflow runs: create, search, log params, metrics and tags' },
  { name: 'metrics', description: 'Metric histories, sampled series' },
  { name: 'artifacts', description: 'Artifact upload, listing and download (mlflow-artifacts, get-artifact)' },
  { name: 'registry', description: 'MLflow Model Registry: registered models, model versions, stages and aliases' },
  { name: 'sweeps', description: 'lablog hyperparameter sweeps and their trials' },
  { name: 'auth', description: 'Login, sessions, single sign-on' },
  { name: 'users', description: 'User accounts' },
  { name: 'tokens', description: 'Access tokens' },
  { name: 'permissions', description: 'Experiment and registered model permissions' },
  { name: 'audit', description: 'The audit log' },
  { name: 'server', description: 'Health and version' },
];

/** Path segments (after the API prefix) whose tag is not the segment itself. */
const TAG_OF_SEGMENT: Record<string, string> = { 'upload-artifact': 'artifacts', me: 'users', 'registered-models': 'registry', 'model-versions': 'registry' };

/** The tag of a route, from its first path segment after the API prefix. */
export function tagOf(url: string): string {
  if (url.startsWith('/get-artifact') || url.includes('/mlflow-artifacts/')) return 'artifacts';
  if (url.startsWith('/model-versions/')) return 'registry';
  if (!url.startsWith('/api/2.0/') && !url.startsWith('/ajax-api/2.0/')) return 'server';
  const segment = url.split('/')[4] ?? '';
  return TAG_OF_SEGMENT[segment] ?? segment;
}

// Zod schemas with a transform have no exact JSON Schema; this fallback describes such parts as "any".
const lenientTransform = createJsonSchemaTransform({ zodToJsonConfig: { unrepresentable: 'any' } });

type TransformArg = Parameters<typeof jsonSchemaTransform>[0];

/**
 * Registers @fastify/swagger; must run before the routes are added (it collects them in onRoute).
 * Request schemas come from the routes' zod schemas (input side: what a client sends).
 */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'lablog',
        version: VERSION,
        description: 'The MLflow REST API 2.0 as served by lablog (under /api/2.0/mlflow and /ajax-api/2.0/mlflow), and lablog\'s own API (/api/2.0/lablog).',
      },
      tags: TAGS,
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'An access token (when auth is on)' },
          basic: { type: 'http', scheme: 'basic', description: 'Username and password (when auth is on)' },
        },
      },
      security: [{ bearer: [] }, { basic: [] }],
    },
    transform: (doc: TransformArg) => {
      const { url, route } = doc;
      if (DOCS_ROUTES.includes(url) || !DOCUMENTED.some((p) => url.startsWith(p))) return { schema: { hide: true }, url };
      let out: ReturnType<typeof jsonSchemaTransform>;
      try {
        out = jsonSchemaTransform(doc);
      } catch (err) {
        app.log.debug({ url, err }, 'openapi: request schema described leniently');
        try {
          out = lenientTransform(doc);
        } catch {
          // Never let one schema keep the app from starting: the route is listed without its schema.
          out = { schema: { description: 'request schema not representable as JSON Schema' }, url };
        }
      }
      const schema = { ...(out.schema as Record<string, unknown>) };
      if (schema.hide) return out;
      const method = [route.method].flat()[0];
      schema.tags ??= [tagOf(url)];
      schema.summary ??= `${method} ${url.replace(/^\/(ajax-)?api\/2\.0\/[^/]+\//, '')}`;
      if (route.config?.public || url === '/health') schema.security = [];
      return { schema, url: out.url } as ReturnType<typeof jsonSchemaTransform>;
    },
  });
}

const DOCS_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>lablog API reference</title>
<link rel="stylesheet" href="${DOCS_PATH}/docs.css">
<script type="module" src="${DOCS_PATH}/docs.js"></script>
</head>
<body>
<h1>lablog API reference</h1>
<p>The OpenAPI 3.1 document: <a href="${OPENAPI_PATH}">${OPENAPI_PATH}</a></p>
<main id="reference">Loading…</main>
</body>
</html>
`;

const DOCS_CSS = `body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem;color:#222}
h2{border-bottom:1px solid #ccc;margin-top:2rem}
details{margin:.3rem 0;border:1px solid #e3e3e3;border-radius:4px;padding:.3rem .6rem}
summary{cursor:pointer}
.method{display:inline-block;min-width:4rem;font-weight:bold;font-family:monospace}
.path{font-family:monospace}
.summary{color:#666;margin-left:1rem}
pre{background:#f6f6f6;padding:.5rem;overflow:auto;font-size:.85rem}
`;

/** The page's script (served as a file: the CSP allows no inline script). Builds the list with DOM calls only. */
const DOCS_JS = `const root = document.getElementById('reference');
const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; };
fetch(${JSON.stringify(OPENAPI_PATH)}, { credentials: 'same-origin' })
  .then((r) => { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
  .then((doc) => {
    root.textContent = '';
    root.append(el('p', '', doc.info.title + ' ' + doc.info.version));
    const byTag = new Map((doc.tags || []).map((t) => [t.name, []]));
    for (const [path, ops] of Object.entries(doc.paths || {})) {
      for (const [method, op] of Object.entries(ops)) {
        const tag = (op.tags && op.tags[0]) || 'other';
        if (!byTag.has(tag)) byTag.set(tag, []);
        byTag.get(tag).push({ path, method, op });
      }
    }
    for (const [tag, list] of byTag) {
      if (list.length === 0) continue;
      root.append(el('h2', '', tag));
      for (const { path, method, op } of list) {
        const d = el('details');
        const s = el('summary');
        s.append(el('span', 'method', method.toUpperCase()), el('span', 'path', path), el('span', 'summary', op.summary || ''));
        d.append(s);
        const params = (op.parameters || []).map((p) => p.in + ' ' + p.name + (p.required ? ' (required)' : '') + ': ' + JSON.stringify(p.schema));
        if (params.length) { d.append(el('h4', '', 'Parameters'), el('pre', '', params.join('\\n'))); }
        const body = op.requestBody && op.requestBody.content && op.requestBody.content['application/json'];
        if (body) { d.append(el('h4', '', 'Request body'), el('pre', '', JSON.stringify(body.schema, null, 2))); }
        root.append(d);
      }
    }
  })
  .catch((e) => { root.textContent = 'Could not load the API description: ' + e.message; });
`;

/** GET /api/openapi.json and the reference page at /api/docs (under /api/: credentials needed when auth is on). */
export async function openApiRoutes(app: FastifyInstance): Promise<void> {
  const hide = { schema: { hide: true } };
  app.get(OPENAPI_PATH, hide, (_req, reply) => reply.type('application/json; charset=utf-8').send(app.swagger()));
  app.get(DOCS_PATH, hide, (_req, reply) => reply.type('text/html; charset=utf-8').header('Cache-Control', 'no-cache').send(DOCS_HTML));
  app.get(`${DOCS_PATH}/docs.js`, hide, (_req, reply) => reply.type('text/javascript; charset=utf-8').send(DOCS_JS));
  app.get(`${DOCS_PATH}/docs.css`, hide, (_req, reply) => reply.type('text/css; charset=utf-8').send(DOCS_CSS));
}
