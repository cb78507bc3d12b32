/**
 * lablog-client/node: the Node-only parts of the SDK (spool files, replay, process exit, git and
 * environment tags, system metrics). The core loads this module dynamically when it runs under Node.
 */
export { openSpool, parseSpoolFileName, type Spool, type SpoolEntry } from './spool.js';
export { listSpoolFiles, replaySpool, syncSpools, SyncError, type SyncOptions, type SyncReport } from './sync.js';
export { registerExitHandlers, unregisterExitHandlers, type ExitTarget } from './exit.js';
export { captureSourceTags, lockfileHash, shellQuote, stripCredentials, MAX_DIFF_BYTES } from './repro.js';
export { startSystemMetrics, parseNvidiaSmi, gpuMetrics, type GpuSample } from './system-metrics.js';
