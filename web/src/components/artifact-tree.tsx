import { useEffect, useState } from 'preact/hooks';
import { mlflow } from '../api.js';

export interface ArtifactFile {
  path: string;
  is_dir: boolean;
  file_size?: number;
}

/** Every page of artifacts/list for one folder ('' = the run's artifact root). */
export async function listArtifacts(runId: string, path: string): Promise<ArtifactFile[]> {
  const out: ArtifactFile[] = [];
  let token: string | undefined;
  do {
    const page = await mlflow<{ files?: ArtifactFile[]; next_page_token?: string }>('GET', 'artifacts/list', undefined, { run_id: runId, path: path || undefined, page_token: token });
    out.push(...(page.files ?? []));
    token = page.next_page_token;
  } while (token && out.length < 100_000);
  return out.sort((a, b) => Number(b.is_dir) - Number(a.is_dir) || a.path.localeCompare(b.path));
}

export function fmtBytes(n?: number): string {
  if (n === undefined || n === null) return '';
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

const baseName = (p: string) => p.slice(p.lastIndexOf('/') + 1);

interface TreeProps {
  runId: string;
  selected: string | null;
  onSelect: (f: ArtifactFile) => void;
  /** Bumped to reload the root (a running run keeps writing artifacts). */
  reloadKey?: number;
  /** A folder was opened (the run page offers "Register model" on one that holds an MLmodel). */
  onOpenDir?: (path: string) => void;
}

/** The run's artifacts as a tree; a folder's contents load when it is first opened. */
export function ArtifactTree({ runId, selected, onSelect, reloadKey, onOpenDir }: TreeProps) {
  return (
    <div class="artifact-tree" data-testid="artifact-tree" role="tree">
      <Folder runId={runId} path="" depth={0} selected={selected} onSelect={onSelect} reloadKey={reloadKey} onOpenDir={onOpenDir} />
    </div>
  );
}

function Folder({ runId, path, depth, selected, onSelect, reloadKey, onOpenDir }: TreeProps & { path: string; depth: number }) {
  const [files, setFiles] = useState<ArtifactFile[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    listArtifacts(runId, path).then(
      (f) => live && setFiles(f),
      (e: Error) => live && setError(e.message),
    );
    return () => {
      live = false;
    };
  }, [runId, path, reloadKey]);
  if (error) return <div class="error" style={{ paddingLeft: `${depth * 14 + 4}px` }}>{error}</div>;
  if (!files) return <div class="muted" style={{ paddingLeft: `${depth * 14 + 4}px` }}>Loading…</div>;
  if (files.length === 0 && depth === 0) return <p class="muted">No artifacts.</p>;
  return (
    <>
      {files.map((f) => (f.is_dir ? <DirNode key={f.path} {...{ runId, depth, selected, onSelect, reloadKey, onOpenDir }} file={f} /> : <FileNode key={f.path} file={f} depth={depth} selected={selected} onSelect={onSelect} />))}
    </>
  );
}

function DirNode({ runId, file, depth, selected, onSelect, reloadKey, onOpenDir }: TreeProps & { file: ArtifactFile; depth: number }) {
  // Folders on the way to the selected file start open, so a shared URL shows its file in place.
  const [open, setOpen] = useState(() => !!selected && selected.startsWith(`${file.path}/`));
  return (
    <div role="treeitem" aria-expanded={open}>
      <div class="tree-row dir" data-path={file.path} style={{ paddingLeft: `${depth * 14 + 4}px` }} onMouseDown={onPress(() => {
          if (!open) onOpenDir?.(file.path);
          setOpen(!open);
        })}
      >
        <span class="twisty">{open ? '▾' : '▸'}</span> {baseName(file.path)}/
      </div>
      {open && <Folder runId={runId} path={file.path} depth={depth + 1} selected={selected} onSelect={onSelect} reloadKey={reloadKey} onOpenDir={onOpenDir} />}
    </div>
  );
}

/**
 * Rows act when the primary button goes down, as native file trees do, not on click: the tree sits below
 * charts and images that change height as they load (and a live run adds charts), so a row can move from
 * under a pressed pointer, and a click whose press and release land on different rows reaches neither.
 * A touch tap fires mousedown too.
 */
const onPress = (act: () => void) => (e: MouseEvent) => {
  if (e.button === 0) act();
};

function FileNode({ file, depth, selected, onSelect }: { file: ArtifactFile; depth: number; selected: string | null; onSelect: (f: ArtifactFile) => void }) {
  return (
    <div
      role="treeitem"
      aria-selected={selected === file.path}
      class={`tree-row file${selected === file.path ? ' selected' : ''}`}
      data-path={file.path}
      style={{ paddingLeft: `${depth * 14 + 18}px` }}
      onMouseDown={onPress(() => onSelect(file))}
    >
      <span class="name">{baseName(file.path)}</span>
      <span class="muted size">{fmtBytes(file.file_size)}</span>
    </div>
  );
}
