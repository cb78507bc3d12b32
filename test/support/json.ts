/** The parsed JSON of a response body, or `fallback` when the body is not JSON (empty, an HTML page, plain text). */
export function parseJsonOr(text: string, fallback: unknown): any {
  try {
    return JSON.parse(text);
  } catch {
    return fallback;
  }
}
