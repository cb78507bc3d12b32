/**
 * lablog-client: log runs to a lablog (or MLflow) tracking server.
 *
 *   const lab = new Lablog();
 *   const run = await lab.startRun({ experiment: 'mnist', params: { lr: 0.01 } });
 *   run.log({ loss: 0.3 }); await run.end();
 *
 * Zero dependencies, global fetch; nothing here imports Node modules (the Node part, `./node.js`, is
 * loaded dynamically when running under Node).
 */
export const SDK_VERSION = '0.1.0';
export { Lablog } from './lablog.js';
export { Run } from './run.js';
export { Sweep, sweepConfigToWire } from './sweep.js';
export { Trial, TrialStoppedError, type TrialFn } from './sweep-agent.js';
export { LablogClient, encodePath } from './client.js';
export { Transport, type Reply, type RequestOptions, type Query } from './http.js';
export { LablogApiError, LablogNetworkError, LablogTimeoutError, isRetryable } from './errors.js';
export { imagePath, proxiedRoot } from './artifacts.js';
export { LIMITS } from './util.js';
export type * from './types.js';
export * from './schedules.js';
export { lrRangeTest, LR_RANGE_TAGS, type LrRangeTestOptions, type LrRangeTestResult, type LrRangeMode } from './lr-range-test.js';
