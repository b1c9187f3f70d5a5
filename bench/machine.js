// What the numbers were measured on: they mean little without it.

import os from 'node:os';

/** A description of this machine and runtime. */
export function machineInfo() {
  const cpus = os.cpus();
  return {
    hostname: os.hostname(),
    platform: `${os.platform()} ${os.release()}`,
    arch: os.arch(),
    cpuModel: cpus[0]?.model ?? 'unknown',
    cpuCount: cpus.length,
    availableParallelism: typeof os.availableParallelism === 'function' ? os.availableParallelism() : cpus.length,
    totalMemory: os.totalmem(),
    loadAverage: os.loadavg(),
    node: process.version,
    v8: process.versions.v8,
  };
}
