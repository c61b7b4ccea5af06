/**
 * Summarises a V8 CPU profile (`node --cpu-prof`): self time by function and by file, heaviest
 * first. `node test/bench/profile.ts <file.cpuprofile> [--top 25]`. This is how the findings in
 * docs/performance.md were read.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  totalMs: number;
  byFunction: { name: string; ms: number }[];
  byFile: { file: string; ms: number }[];
}

function shortUrl(url: string): string {
  if (!url) return '(native)';
  return url
    .replace(/^file:\/\//, '')
    .replace(/^.*\/node_modules\//, 'node_modules/')
    .replace(/^.*\/(src|dist|test)\//, '$1/');
}

export function summarizeProfile(profile: CpuProfile): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const fn = new Map<string, number>();
  const file = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)?.callFrame;
    if (!frame) continue;
    const url = shortUrl(frame.url);
    const name = `${frame.functionName || '(anonymous)'} ${url}:${frame.lineNumber + 1}`;
    fn.set(name, (fn.get(name) ?? 0) + us);
    file.set(url, (file.get(url) ?? 0) + us);
  }
  const sorted = <K extends string>(m: Map<string, number>, key: K) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([k, us]) => ({ [key]: k, ms: us / 1000 }) as { [P in K]: string } & { ms: number });
  return {
    totalMs: (profile.endTime - profile.startTime) / 1000,
    byFunction: sorted(fn, 'name'),
    byFile: sorted(file, 'file'),
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: 'string', default: '25' } },
  });
  const top = Number(values.top);
  for (const path of positionals) {
    const summary = summarizeProfile(JSON.parse(readFileSync(path, 'utf8')) as CpuProfile);
    console.log(`${path}: ${summary.totalMs.toFixed(1)} ms profiled`);
    console.log('  self time by file:');
    for (const f of summary.byFile.slice(0, top))
      console.log(`    ${f.ms.toFixed(1).padStart(8)} ms  ${f.file}`);
    console.log('  self time by function:');
    for (const f of summary.byFunction.slice(0, top))
      console.log(`    ${f.ms.toFixed(1).padStart(8)} ms  ${f.name}`);
  }
}
