import { useEffect, useState } from 'preact/hooks';
import { lablog } from '../api.js';
import { fmtBytes } from './artifact-tree.js';

const IMAGE_EXT = /\.(png|jpe?g|gif|webp)$/i;
const MAX_CSV_ROWS = 1000;

export const previewUrl = (runId: string, path: string) => `/api/2.0/lablog/artifacts/preview?run_id=${encodeURIComponent(runId)}&path=${encodeURIComponent(path)}`;
export const downloadUrl = (runId: string, path: string) => `/get-artifact?run_id=${encodeURIComponent(runId)}&path=${encodeURIComponent(path)}`;

interface Preview {
  kind: 'text' | 'csv' | 'json' | 'binary';
  total_size: number;
  truncated: boolean;
  content?: string;
}

/** A file's preview: images inline, text as text, CSV as a table, JSON pretty-printed; always a download link. */
export function ArtifactPreview({ runId, path, size }: { runId: string; path: string; size?: number }) {
  const isImage = IMAGE_EXT.test(path);
  const [preview, setPreview] = useState<Preview | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    setPreview(null);
    setError(null);
    if (isImage) return;
    let live = true;
    lablog<Preview>('artifacts/preview', { run_id: runId, path }).then(
      (p) => live && setPreview(p),
      (e: Error) => live && setError(e.message),
    );
    return () => {
      live = false;
    };
  }, [runId, path, isImage]);
  const total = preview?.total_size ?? size;
  return (
    <div class="artifact-preview" data-testid="artifact-preview" data-path={path}>
      <div class="toolbar preview-head">
        <code class="path">{path}</code>
        {total !== undefined && <span class="muted" data-testid="preview-size">{fmtBytes(total)}</span>}
        <a href={downloadUrl(runId, path)} download data-testid="download">
          Download
        </a>
      </div>
      {preview?.truncated && (
        <div class="note-truncated muted" data-testid="truncated">
          Truncated: showing the first {fmtBytes((preview.content ?? '').length)} of {fmtBytes(preview.total_size)}. Download the file for all of it.
        </div>
      )}
      {error && <div class="error">{error}</div>}
      {isImage ? (
        <img class="preview-image" data-testid="preview-image" src={previewUrl(runId, path)} alt={path} />
      ) : preview ? (
        <PreviewBody preview={preview} />
      ) : (
        !error && <div class="muted">Loading…</div>
      )}
    </div>
  );
}

function PreviewBody({ preview }: { preview: Preview }) {
  if (preview.kind === 'binary' || preview.content === undefined) return <p class="muted">Binary file: no preview.</p>;
  if (preview.kind === 'csv') return <CsvTable text={preview.content} truncated={preview.truncated} />;
  if (preview.kind === 'json') {
    try {
      return <pre class="preview-text" data-testid="preview-json">{JSON.stringify(JSON.parse(preview.content), null, 2)}</pre>;
    } catch {
      // truncated or invalid JSON: show it as it is
    }
  }
  return <pre class="preview-text" data-testid="preview-text">{preview.content}</pre>;
}

/** RFC 4180 CSV (quotes, doubled quotes, newlines in quotes); a TSV is recognised by its first line. */
export function parseCsv(text: string, maxRows = MAX_CSV_ROWS): string[][] {
  const firstLine = text.slice(0, text.indexOf('\n') >>> 0);
  const sep = firstLine.includes('\t') && !firstLine.includes(',') ? '\t' : ',';
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length && rows.length < maxRows; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === '') quoted = true;
    else if (c === sep) row.push(field), (field = '');
    else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if ((field !== '' || row.length > 0) && rows.length < maxRows) rows.push([...row, field]);
  return rows;
}

function CsvTable({ text, truncated }: { text: string; truncated: boolean }) {
  const rows = parseCsv(text);
  // The last line of a cut file is probably partial: leave it out.
  if (truncated && rows.length > 1) rows.pop();
  if (rows.length === 0) return <p class="muted">Empty file.</p>;
  const [head, ...body] = rows;
  return (
    <div class="csv-wrap">
      <table class="plain csv" data-testid="preview-csv">
        <thead>
          <tr>
            {head.map((h, i) => (
              <th key={i}>{h}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {body.map((r, i) => (
            <tr key={i}>
              {r.map((v, j) => (
                <td key={j}>{v}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
      {rows.length >= MAX_CSV_ROWS && <p class="muted">Showing the first {MAX_CSV_ROWS} rows.</p>}
    </div>
  );
}
