// System metrics as MLflow names them (mlflow/system_metrics): system/cpu_utilization_percentage,
// system/system_memory_usage_megabytes (1 MB = 1e6 bytes, as MLflow), system/system_memory_usage_percentage,
// per GPU system/gpu_<i>_utilization_percentage, _memory_usage_megabytes, _memory_usage_percentage
// (from nvidia-smi when it exists), plus system/process_rss_megabytes for this process.
import { execFile } from 'node:child_process';
import os from 'node:os';

interface LoggingRun {
  log(m: Record<string, number>, o?: { step?: number }): void;
}

interface CpuTimes {
  idle: number;
  total: number;
}

function cpuTimes(): CpuTimes {
  let idle = 0;
  let total = 0;
  for (const c of os.cpus()) {
    const t = c.times;
    idle += t.idle;
    total += t.user + t.nice + t.sys + t.idle + t.irq;
  }
  return { idle, total };
}

export interface GpuSample {
  utilization: number;
  memoryUsedMiB: number;
  memoryTotalMiB: number;
}

/** Parses `nvidia-smi --query-gpu=utilization.gpu,memory.used,memory.total --format=csv,noheader,nounits`. */
export function parseNvidiaSmi(text: string): GpuSample[] {
  const out: GpuSample[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const [u, used, total] = line.split(',').map((s) => Number(s.trim()));
    // "[N/A]" (e.g. utilization on some boards) parses as NaN: keep the GPU's index, drop the value later.
    out.push({ utilization: u, memoryUsedMiB: used, memoryTotalMiB: total });
  }
  return out;
}

const MIB = 1024 * 1024;

/** One sample of the GPU metrics, named per GPU index; empty when unavailable. */
export function gpuMetrics(gpus: GpuSample[]): Record<string, number> {
  const m: Record<string, number> = {};
  gpus.forEach((g, i) => {
    const put = (k: string, v: number) => {
      if (Number.isFinite(v)) m[`system/gpu_${i}_${k}`] = v;
    };
    put('utilization_percentage', g.utilization);
    put('memory_usage_megabytes', (g.memoryUsedMiB * MIB) / 1e6);
    put('memory_usage_percentage', g.memoryTotalMiB > 0 ? (g.memoryUsedMiB / g.memoryTotalMiB) * 100 : NaN);
  });
  return m;
}

function queryGpus(): Promise<GpuSample[] | null> {
  return new Promise((resolve) => {
    execFile(
      'nvidia-smi',
      ['--query-gpu=utilization.gpu,memory.used,memory.total', '--format=csv,noheader,nounits'],
      { timeout: 5000, windowsHide: true, encoding: 'utf8' },
      (err, stdout) => {
        if ((err as NodeJS.ErrnoException | null)?.code === 'ENOENT') resolve(null); // no nvidia-smi: stop asking
        else resolve(err ? [] : parseNvidiaSmi(String(stdout)));
      },
    );
  });
}

const round = (v: number, digits = 2) => Math.round(v * 10 ** digits) / 10 ** digits;

/**
 * Logs system metrics to `run` every `intervalMs` (default 10 s), with steps 0, 1, 2, …; the timer does
 * not keep the process alive. Returns stop(). A run that refuses points (ended) stops the sampling.
 */
export function startSystemMetrics(run: LoggingRun, intervalMs = 10_000): () => void {
  let prev = cpuTimes();
  let step = 0;
  let stopped = false;
  let gpuAvailable = true;
  let busy = false;
  const stop = () => {
    stopped = true;
    clearInterval(timer);
  };
  const sample = async () => {
    if (busy || stopped) return; // a slow nvidia-smi: skip this tick rather than pile up
    busy = true;
    try {
      const now = cpuTimes();
      const dTotal = now.total - prev.total;
      const cpu = dTotal > 0 ? (1 - (now.idle - prev.idle) / dTotal) * 100 : 0;
      prev = now;
      const total = os.totalmem();
      const used = total - os.freemem();
      const metrics: Record<string, number> = {
        'system/cpu_utilization_percentage': round(Math.min(100, Math.max(0, cpu))),
        'system/system_memory_usage_megabytes': round(used / 1e6),
        'system/system_memory_usage_percentage': round((used / total) * 100),
        'system/process_rss_megabytes': round(process.memoryUsage.rss() / 1e6),
      };
      if (gpuAvailable) {
        const gpus = await queryGpus();
        if (gpus === null) gpuAvailable = false;
        else Object.assign(metrics, gpuMetrics(gpus));
      }
      if (stopped) return;
      run.log(metrics, { step: step++ });
    } catch {
      stop();
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void sample(), intervalMs);
  timer.unref();
  return stop;
}
