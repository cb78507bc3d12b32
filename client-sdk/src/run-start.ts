import type { LablogClient } from './client.js';
import { isRetryable, LablogApiError } from './errors.js';
import type { KeyValue, RunInfoJson, Spool } from './types.js';
import { isTransient, retryTransient, uuid } from './util.js';

/** What creating a run sends, whether to the server now or to the spool for later. */
export interface CreateBody {
  run_id: string;
  experiment_id?: string;
  run_name?: string;
  user_id?: string;
  start_time: number;
  tags: KeyValue[];
}

/** A run id made by the client, as the server makes them: 32 lowercase hex digits (a v4 UUID's). */
export function newRunId(): string {
  return uuid().replaceAll('-', '');
}

/** Whether the server has lablog's runs/create with a client-made id (unknown until asked). */
export interface CreateState {
  withId?: boolean;
}

const noSuchEndpoint = (err: unknown) => err instanceof LablogApiError && err.status === 404 && err.errorCode === 'ENDPOINT_NOT_FOUND';

/**
 * Creates the run under its own id with lablog's runs/create: idempotent, so every failure worth retrying
 * (a lost answer, a 500) is retried without ever making a second run. A server without that endpoint (an
 * MLflow server) gets MLflow's runs/create, retried only where it cannot have been applied.
 */
export function createRun(client: LablogClient, body: CreateBody & { experiment_id: string }, state: CreateState, giveUpAfterMs: number): Promise<RunInfoJson> {
  const attempt = async () => {
    if (state.withId !== false) {
      try {
        const { run } = await client.lablog.createRun(body);
        state.withId = true;
        return run.info;
      } catch (err) {
        if (!noSuchEndpoint(err)) throw err;
        state.withId = false;
      }
    }
    const { run_id: _made, ...mlflow } = body;
    return (await client.runs.create(mlflow)).run.info;
  };
  return retryTransient(attempt, giveUpAfterMs, (err) => (state.withId === false ? isTransient(err) : isRetryable(err)));
}

/**
 * The info of a run started offline, and its spool with the run's creation as the first line. The
 * experiment goes by id when it is known, else by name (resolved, and created if missing, when the spool
 * is replayed), else experiment "0".
 */
export function spoolCreation(spool: Spool, body: CreateBody, experimentName: string | undefined): RunInfoJson {
  const byName = body.experiment_id === undefined && experimentName !== undefined;
  spool.append({ runId: body.run_id, endpoint: 'lablog/runs/create', idempotencyKey: uuid(), body: { ...body }, ...(byName ? { experiment: experimentName } : {}) });
  return {
    run_id: body.run_id,
    run_uuid: body.run_id,
    run_name: body.run_name,
    experiment_id: body.experiment_id ?? (byName ? '' : '0'),
    user_id: body.user_id,
    status: 'RUNNING',
    start_time: body.start_time,
    lifecycle_stage: 'active',
  };
}
