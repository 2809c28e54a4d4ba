import os from 'node:os';

/** What a bench result depends on besides the code, printed with every result. */
export interface MachineInfo {
  node: string;
  cpus: number;
  cpu_model: string;
  load_average_1m: number;
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    node: process.version,
    cpus: os.availableParallelism(),
    cpu_model: cpus[0]?.model ?? 'unknown',
    load_average_1m: Math.round(os.loadavg()[0]! * 100) / 100,
  };
}
