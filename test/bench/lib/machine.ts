/** The machine a run came from: printed with every result, since only same-run ratios travel. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

export interface Machine {
  cpuModel: string;
  cores: number;
  memoryGB: number;
  os: string;
  node: string;
  go: string;
  govmomi?: string;
  vcsim?: string;
  loadAverageAtStart: number[];
  loadAverageAtEnd?: number[];
  date: string;
}

function cpuModel(): string {
  const fromOs = os.cpus()[0]?.model?.trim();
  if (fromOs && fromOs !== 'unknown') return fromOs;
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    return /model name\s*:\s*(.+)/.exec(info)?.[1]?.trim() ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export function goVersion(): string {
  try {
    return execFileSync('go', ['version'], { encoding: 'utf8' })
      .trim()
      .replace(/^go version /, '');
  } catch {
    return 'not found';
  }
}

export function describeMachine(): Machine {
  return {
    cpuModel: cpuModel(),
    cores: os.availableParallelism(),
    memoryGB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    go: goVersion(),
    loadAverageAtStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
    date: new Date().toISOString(),
  };
}

export function renderMachine(m: Machine): string {
  return [
    `Machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGB} GB, ${m.os}`,
    `Node ${m.node}; Go ${m.go}; govmomi ${m.govmomi ?? '?'} (peer and vcsim); vcsim ${m.vcsim ?? '?'}`,
    `Load average at start ${m.loadAverageAtStart.join(' ')}${m.loadAverageAtEnd ? `, at end ${m.loadAverageAtEnd.join(' ')}` : ''} (the machine is shared: compare ratios, not absolute times)`,
    `Date ${m.date}`,
  ].join('\n');
}
