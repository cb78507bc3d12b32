import { appendFileSync } from 'node:fs';

type Next = (specifier: string, context: unknown) => Promise<{ url: string }>;

export async function resolve(specifier: string, context: unknown, next: Next): Promise<{ url: string }> {
  const resolved = await next(specifier, context);
  if (process.env.LABLOG_TRACE_IMPORTS) appendFileSync(process.env.LABLOG_TRACE_IMPORTS, `${resolved.url}\n`);
  return resolved;
}
