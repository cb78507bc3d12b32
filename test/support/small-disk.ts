import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const CENSUS_JS = fileURLToPath(new URL('./db-census.js', import.meta.url));

/**
 * A tmpfs of a few MB in a mount namespace of its own, for tests of a full or read-only disk. The
 * namespace lives as long as a holder process: however the test ends, the mount goes with it and the
 * machine's mount table never sees it. Root gets a plain mount namespace; anyone else a user
 * namespace too (where the kernel allows them).
 */
export interface SmallDisk {
  /** The mount point, as a process inside the namespace sees it. */
  dir: string;
  /** The same directory from this process (through /proc/<pid>/root); for plain file access only. */
  outside: string;
  /** Prefix that runs a command inside the namespace (spawnLablog's `wrap`). */
  wrap: string[];
  /** Writes a filler file until the disk is full; with `leave`, frees that many bytes again afterwards. */
  fill(leave?: number): void;
  /** Removes the filler files. */
  free(): void;
  /** Makes the mount read-only (a per-mount flag: writes fail with EROFS) or writable again. */
  setReadOnly(readOnly: boolean): void;
  /** PRAGMA integrity_check and the row count of every table of a SQLite file on the disk (read-only). */
  census(file: string): { integrity: string; rows: Record<string, number> };
  close(): Promise<void>;
}

/** Mounts a small disk, or says why none can be mounted here (the reason a skipped test gives). */
export async function mountSmallDisk(bytes: number): Promise<SmallDisk | string> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lablog-disk-'));
  const root = process.getuid?.() === 0;
  const script = `mount -t tmpfs -o size=${bytes} lablog-test "$1" && echo mounted && exec sleep 100000`;
  let holder: ChildProcess;
  const ready = await new Promise<string | null>((resolve) => {
    holder = spawn('unshare', [root ? '-m' : '-rm', '--propagation', 'private', 'sh', '-c', script, 'sh', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    holder.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    holder.stdout!.on('data', (d: Buffer) => d.toString().includes('mounted') && resolve(null));
    holder.once('error', (e) => resolve(`unshare could not run: ${e.message}`));
    holder.once('exit', () => resolve(`no tmpfs could be mounted in a private mount namespace (${root ? 'as root' : 'in a user namespace'}): ${err.trim() || 'unshare exited'}`));
  });
  if (ready !== null) {
    rmSync(dir, { recursive: true, force: true });
    return ready;
  }
  const pid = holder!.pid!;
  const wrap = ['nsenter', '-t', String(pid), ...(root ? ['-m'] : ['-U', '-m', '--preserve-credentials']), '--'];
  const outside = `/proc/${pid}/root${dir}`;
  const inside = (cmd: string[]) => {
    const r = spawnSync(wrap[0], [...wrap.slice(1), ...cmd], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd.join(' ')} in the small disk's namespace failed: ${r.stderr || r.error?.message}`);
    return r.stdout;
  };
  const fillers = [path.join(outside, '.filler'), path.join(outside, '.filler-slack')];
  return {
    dir,
    outside,
    wrap,
    fill(leave = 0) {
      if (leave > 0) writeUntilFull(fillers[1], leave);
      writeUntilFull(fillers[0], Infinity);
      if (leave > 0) rmSync(fillers[1]);
    },
    free() {
      for (const f of fillers) rmSync(f, { force: true });
    },
    setReadOnly(readOnly) {
      inside(['mount', '-o', `remount,bind,${readOnly ? 'ro' : 'rw'}`, dir]);
    },
    census(file) {
      return JSON.parse(inside([process.execPath, CENSUS_JS, path.join(dir, file)]));
    },
    async close() {
      await new Promise<void>((resolve) => {
        holder.once('exit', () => resolve());
        if (!holder.kill('SIGKILL')) resolve();
      });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Writes zeros to `file` until `max` bytes or the disk is full (ENOSPC ends it; tmpfs fills page by page). */
function writeUntilFull(file: string, max: number): void {
  const fd = openSync(file, 'w');
  let written = 0;
  try {
    for (const size of [1 << 20, 4096]) {
      const chunk = Buffer.alloc(size);
      while (written < max) {
        try {
          written += writeSync(fd, chunk, 0, Math.min(size, max - written));
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
          break;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
}
