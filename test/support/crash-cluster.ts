import { closeSync, openSync, readdirSync, readSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startLablog, stop, type Exit, type LablogProcess } from './lablog-process.js';

/**
 * One server on one data dir, killed with SIGKILL and started again as the plan says. Kills are
 * triggered by events, never by the clock: after a number of acknowledged requests, as an answer
 * arrives (the server committed, the client never hears of it), or in the middle of an upload once the
 * server has begun staging it. Writers ask it which server is up and tell it what was answered.
 */

export interface KillPlan {
  /**
   * After `afterAcks` acknowledged requests: 'acks' kills at once; 'answer-lost' kills as the next 200
   * arrives and has the writer treat that answer as never received; 'upload' kills inside the next upload.
   */
  kind: 'acks' | 'answer-lost' | 'upload';
  afterAcks: number;
  /**
   * For 'answer-lost': take the answer of a log-batch sent with an Idempotency-Key (its retry must be
   * answered as a replay and write nothing), or else of any other request (it must be found whole).
   */
  keyed?: boolean;
}

export interface Incarnation {
  n: number;
  url: string;
}

export interface KillRecord {
  kind: KillPlan['kind'];
  keyed?: boolean;
  /** Acknowledged requests of the killed incarnation. */
  acks: number;
  /** Requests sent and not yet answered when the signal went (besides the one whose answer triggered it). */
  inFlight: number;
  /** Staging files the killed server left behind (they must be gone once the next one is up). */
  leftovers: string[];
}

/** Where server/artifacts/local.ts stages uploads: beside the artifact root. */
export const stagingDir = (dataDir: string) => path.join(dataDir, '.artifacts-staging');

/** The staging area's files, its `mpu` folder aside. */
export function stagedFiles(dataDir: string): string[] {
  try {
    return readdirSync(stagingDir(dataDir), { withFileTypes: true }).filter((e) => e.name !== 'mpu').map((e) => e.name).sort();
  } catch {
    return [];
  }
}

function startsWith(file: string, head: Buffer): boolean {
  let fd: number | null = null;
  try {
    fd = openSync(file, 'r');
    const buf = Buffer.alloc(head.length);
    return readSync(fd, buf, 0, buf.length, 0) === head.length && buf.equals(head);
  } catch {
    return false; // renamed into place or removed meanwhile
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

export class CrashCluster {
  current: Incarnation | null = null;
  readonly kills: KillRecord[] = [];
  /** Broken promises of the cluster itself (a leftover not swept, an odd exit); the scenario reports them. */
  readonly violations: string[] = [];
  private proc: LablogProcess | null = null;
  private killing = false;
  private acks = 0;
  private inFlight = 0;
  private plan: KillPlan | null = null;
  private failure: Error | null = null;
  private waiters: (() => void)[] = [];

  constructor(
    readonly dataDir: string,
    private readonly plans: KillPlan[],
    private readonly log: (line: string) => void,
  ) {}

  /** Every planned kill is done and the last server is up. */
  get finished(): boolean {
    return this.kills.length >= this.plans.length && !this.killing;
  }

  async start(): Promise<void> {
    const p = await startLablog(['--port', '0', '--data-dir', this.dataDir]);
    this.proc = p;
    this.current = { n: (this.current?.n ?? 0) + 1, url: p.url };
    this.acks = 0;
    this.plan = this.plans[this.kills.length] ?? null;
    this.killing = false;
    this.wake();
  }

  /** The server that is up, once it is newer than incarnation `seen` (0: any). */
  async after(seen: number): Promise<Incarnation> {
    for (;;) {
      if (this.failure) throw this.failure;
      if (this.current && this.current.n > seen && !this.killing) return this.current;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** A request that failed without an answer: if its server is dead or dying, its outcome is unknown. */
  down(n: number): boolean {
    return this.current === null || n < this.current.n || this.killing;
  }

  /** Wraps one request so that the in-flight count at each kill is known. */
  async track<T>(send: () => Promise<T>): Promise<T> {
    this.inFlight++;
    try {
      return await send();
    } finally {
      this.inFlight--;
    }
  }

  /** A 200 from incarnation `n`; 'lost' when this cycle's kill takes it: the writer must not count it acknowledged. */
  answered(n: number, keyed: boolean): 'acked' | 'lost' {
    if (n !== this.current?.n || this.killing) return 'acked';
    if (this.plan?.kind === 'answer-lost' && this.acks >= this.plan.afterAcks && this.plan.keyed === keyed) {
      void this.kill('answer-lost');
      return 'lost';
    }
    this.acks++;
    if (this.plan?.kind === 'acks' && this.acks >= this.plan.afterAcks) void this.kill();
    return 'acked';
  }

  /** Asked by an upload as it starts: true when this cycle's kill is to land in its middle (at most one per cycle). */
  claimUploadKill(n: number): boolean {
    if (this.plan?.kind !== 'upload' || n !== this.current?.n || this.killing || this.acks < this.plan.afterAcks) return false;
    this.plan = null;
    return true;
  }

  /**
   * Kills the server once it has begun staging the upload that claimed the kill (the staging file that
   * starts with `head`, that upload's first bytes); resolves when it is dead.
   */
  async killMidUpload(head: Buffer): Promise<void> {
    // A state, not a duration. Bounded in case it never shows.
    const deadline = Date.now() + 10_000;
    while (!stagedFiles(this.dataDir).some((f) => startsWith(path.join(stagingDir(this.dataDir), f), head))) {
      if (Date.now() > deadline) {
        this.log('crash: the upload never showed in the staging folder within 10 s; killing anyway');
        break;
      }
      await sleep(2);
    }
    await this.kill('upload');
  }

  /** SIGKILL, wait for the exit, then start again on the same data dir (in the background for the caller). */
  async kill(kind: KillPlan['kind'] = 'acks'): Promise<void> {
    if (this.killing || !this.proc) return;
    this.killing = true;
    const proc = this.proc;
    // Not counting the request whose answer triggered the kill; an upload kill's own upload is in flight.
    const record: KillRecord = { kind, acks: this.acks, inFlight: this.inFlight - (kind === 'upload' ? 0 : 1), leftovers: [] };
    if (kind === 'answer-lost') record.keyed = this.plan?.keyed;
    proc.child.kill('SIGKILL');
    const exit = await proc.exited;
    if (exit.signal !== 'SIGKILL') this.violations.push(`kill ${this.kills.length + 1}: the server exited with ${exit.code ?? exit.signal} before the signal`);
    record.leftovers = stagedFiles(this.dataDir);
    this.kills.push(record);
    this.log(`crash: kill ${this.kills.length}/${this.plans.length} (${kind}${record.keyed === undefined ? '' : record.keyed ? ', a keyed batch' : ', not a keyed batch'}) after ${record.acks} acks, ${record.inFlight} requests in flight, ${record.leftovers.length} staging files left`);
    void this.restart(record);
  }

  private async restart(record: KillRecord): Promise<void> {
    try {
      await this.start();
      const still = record.leftovers.filter((f) => stagedFiles(this.dataDir).includes(f));
      if (still.length > 0) this.violations.push(`after kill ${this.kills.length}: the restarted server left ${still.length} stale staging files (${still.slice(0, 3).join(', ')}${still.length > 3 ? ', ...' : ''})`);
    } catch (err) {
      this.failure = new Error(`restart after kill ${this.kills.length} failed: ${(err as Error).message}`);
      this.wake();
    }
  }

  /** SIGTERM to the last server; its exit (code 0 expected). */
  async stop(): Promise<Exit> {
    if (!this.proc) throw new Error('no server to stop');
    const exit = await stop(this.proc);
    this.current = null;
    return exit;
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}
