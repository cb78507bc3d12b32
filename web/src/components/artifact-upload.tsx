import { useEffect, useState } from 'preact/hooks';
import { uploadArtifact } from '../api.js';
import { fmtBytes } from './artifact-tree.js';

/** The folder a selected artifact sits in ('' = the root): where an upload goes unless the user says otherwise. */
export const folderOf = (p: string | null) => (p && p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '');

type Status = { kind: 'idle' } | { kind: 'uploading'; name: string; size: number } | { kind: 'done'; path: string } | { kind: 'error'; message: string };

/**
 * "Upload artifact" (MLflow UI's upload-artifact): a file and an optional folder (by default the folder
 * of the selected artifact). Shown only to callers who may write to the run's experiment.
 */
export function ArtifactUpload({ runId, folder, onUploaded }: { runId: string; folder: string; onUploaded: (path: string) => void }) {
  const [file, setFile] = useState<File | null>(null);
  const [dir, setDir] = useState(folder);
  const [status, setStatus] = useState<Status>({ kind: 'idle' });
  // Follows the selection until the user types a folder of their own.
  const [dirTouched, setDirTouched] = useState(false);
  useEffect(() => {
    if (!dirTouched) setDir(folder);
  }, [folder, dirTouched]);

  const upload = async () => {
    if (!file) return;
    const clean = dir.trim().replace(/^\/+|\/+$/g, '');
    const path = clean ? `${clean}/${file.name}` : file.name;
    setStatus({ kind: 'uploading', name: file.name, size: file.size });
    try {
      await uploadArtifact(runId, path, file);
      setStatus({ kind: 'done', path });
      onUploaded(path);
    } catch (e) {
      setStatus({ kind: 'error', message: (e as Error).message });
    }
  };

  const busy = status.kind === 'uploading';
  return (
    <div class="artifact-upload toolbar" data-testid="artifact-upload">
      <input type="file" data-testid="upload-file" aria-label="file to upload" disabled={busy} onChange={(e) => setFile((e.currentTarget as HTMLInputElement).files?.[0] ?? null)} />
      <input
        type="text"
        data-testid="upload-folder"
        aria-label="folder"
        placeholder="folder (optional)"
        value={dir}
        disabled={busy}
        onInput={(e) => {
          setDirTouched(true);
          setDir((e.currentTarget as HTMLInputElement).value);
        }}
      />
      <button class="primary" data-testid="upload-button" disabled={!file || busy} onClick={() => void upload()}>
        Upload artifact
      </button>
      <span data-testid="upload-status" role="status">
        {status.kind === 'uploading' && (
          <span class="muted">
            Uploading {status.name} ({fmtBytes(status.size)})…
          </span>
        )}
        {status.kind === 'done' && <span class="muted">Uploaded {status.path}</span>}
        {status.kind === 'error' && <span class="error">{status.message}</span>}
      </span>
    </div>
  );
}
