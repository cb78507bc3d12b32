import type { LablogClient } from './client.js';
import type { Run } from './run.js';
import { runAgent, type AgentContext, type TrialFn } from './sweep-agent.js';
import type { AgentOptions, AgentSummary, SweepConfig, SweepConfigJson, SweepImportanceJson, SweepJson, SweepParams, TrialJson } from './types.js';
import { retryTransient, userName } from './util.js';

const SWEEPS = '/api/2.0/lablog/sweeps';

/** What a Sweep needs from its Lablog. */
export interface SweepHost {
  client: LablogClient;
  offlineAfterMs: number;
  /** A Run logging to an existing run (a trial's). */
  attachRun(runId: string): Promise<Run>;
  /** Reports to the Lablog's error listeners. */
  emit(err: Error, run?: Run): void;
}

/** The camelCase config as `sweeps/create` takes it; options left out stay out (the server's defaults apply). */
export function sweepConfigToWire(config: SweepConfig, experimentId: string): SweepConfigJson {
  const wire: SweepConfigJson = {
    experiment_id: experimentId,
    name: config.name,
    method: config.method,
    metric: defined({ name: config.metric.name, goal: config.metric.goal }),
    parameters: config.parameters,
  };
  const et = config.earlyTerminate;
  const set = <K extends keyof SweepConfigJson>(key: K, value: SweepConfigJson[K] | undefined) => {
    if (value !== undefined) wire[key] = value;
  };
  set('run_cap', config.runCap);
  set('early_terminate', et && defined({ type: et.type, min_iter: et.minIter, eta: et.eta, min_trials: et.minTrials }));
  set('seed', config.seed);
  set('heartbeat_timeout_ms', config.heartbeatTimeoutMs);
  set('tpe', config.tpe && defined({ n_startup_trials: config.tpe.nStartupTrials, n_ei_candidates: config.tpe.nEiCandidates }));
  return wire;
}

function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/**
 * A sweep on the server: its state, its trials, its controls, and `agent()` to work on it. Made by
 * `lab.sweep(config)` (create, or attach when the same name and config exist) or `lab.sweep(id)`.
 * `P` is the type of a trial's params (inferred from the config's parameters by `lab.sweep(config)`).
 */
export class Sweep<P = SweepParams> {
  readonly id: string;
  readonly experimentId: string;
  readonly name: string;
  private readonly host: SweepHost;
  private _last: SweepJson;

  constructor(host: SweepHost, json: SweepJson) {
    this.host = host;
    this.id = json.sweep_id;
    this.experimentId = json.experiment_id;
    this.name = json.name;
    this._last = json;
  }

  /** Creates the sweep, or attaches to the one with the same name and config (so a retry is safe). */
  static async create<P = SweepParams>(host: SweepHost, config: SweepConfigJson): Promise<Sweep<P>> {
    const { sweep } = await retrying(host, () => host.client.call<{ sweep: SweepJson }>('POST', `${SWEEPS}/create`, { json: config }));
    return new Sweep<P>(host, sweep);
  }

  /** The sweep `id`; retried as create is, so a worker started by id also rides out a server restart. */
  static async attach(host: SweepHost, id: string): Promise<Sweep> {
    const { sweep } = await retrying(host, () => host.client.call<{ sweep: SweepJson }>('GET', `${SWEEPS}/${encodeURIComponent(id)}`));
    return new Sweep(host, sweep);
  }

  /** The sweep as last seen in any answer (create, info, pause, next, ...); `info()` asks again. */
  get last(): SweepJson {
    return this._last;
  }

  async info(): Promise<SweepJson> {
    const { sweep } = await this.host.client.call<{ sweep: SweepJson }>('GET', this.path(''));
    return (this._last = sweep);
  }

  /** Every trial so far, in trial order. */
  async trials(): Promise<TrialJson[]> {
    return (await this.host.client.call<{ trials?: TrialJson[] }>('GET', this.path('/trials'))).trials ?? [];
  }

  /** No new trial is handed out until resume(); running ones go on. */
  pause(): Promise<SweepJson> {
    return this.control('pause');
  }

  resume(): Promise<SweepJson> {
    return this.control('resume');
  }

  /** Ends the sweep for good (its parent run ends KILLED); agents return once their trial is done. */
  stop(): Promise<SweepJson> {
    return this.control('stop');
  }

  /** How strongly each parameter goes with the objective over the finished trials. */
  importance(): Promise<SweepImportanceJson> {
    return this.host.client.call<SweepImportanceJson>('GET', this.path('/importance'));
  }

  /**
   * Runs trials until `count` trials ran, the sweep is over or `opts.signal` aborts. For each one:
   * `fn(params, run, trial)` with the trial's run (params and tags already logged), heartbeats while it
   * runs, the run ended FINISHED (or FAILED when fn throws; three failures in a row rethrow; or as the
   * server left it when the server failed the trial). A number returned by fn is logged as the sweep's
   * metric at the run's next step.
   */
  agent(fn: TrialFn<P>, opts: AgentOptions = {}): Promise<AgentSummary> {
    const ctx: AgentContext = {
      host: this.host,
      call: <T>(route: string, body: object, retry = true) => {
        const send = () => this.host.client.call<T>('POST', this.path(`/${route}`), { json: body });
        return retry ? retrying(this.host, send) : send();
      },
      metricName: () => this._last.config.metric.name,
      heartbeatTimeoutMs: () => this._last.config.heartbeat_timeout_ms,
      seen: (sweep) => {
        this._last = sweep;
      },
      user: userName(),
    };
    return runAgent(ctx, fn, opts);
  }

  private async control(action: 'pause' | 'resume' | 'stop'): Promise<SweepJson> {
    const { sweep } = await this.host.client.call<{ sweep: SweepJson }>('POST', this.path(`/${action}`), { json: {} });
    return (this._last = sweep);
  }

  private path(rest: string): string {
    return `${SWEEPS}/${encodeURIComponent(this.id)}${rest}`;
  }
}

/**
 * Retried as runs/create is: a worker rides out a server restart. A `next` carries a request id kept
 * across its retries, so a lost answer gives the same trial back instead of a second one.
 */
function retrying<T>(host: SweepHost, fn: () => Promise<T>): Promise<T> {
  return retryTransient(fn, host.offlineAfterMs);
}
