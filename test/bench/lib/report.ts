/** What each measure produces, and its rendering as text. Targets are reported, never enforced. */
import { fmt, median, type Summary, summarize } from './stats.ts';

export interface Series {
  label: string;
  unit: string;
  summary: Summary;
}

export interface Ratio {
  label: string;
  /** Median of the numerator series over median of the denominator series, same run. */
  value: number;
  /** The same ratio taken round by round (numerator and denominator measured back to back). */
  perRound?: Summary;
}

export interface Target {
  text: string;
  /** undefined: could not be judged (measure failed, or not at the size the target is defined for). */
  met: boolean | undefined;
  actual: string;
  note?: string;
}

export interface MeasureResult {
  id: string;
  title: string;
  series: Series[];
  ratios: Ratio[];
  targets: Target[];
  notes: string[];
  error?: string;
  seconds: number;
}

export function newResult(id: string, title: string): MeasureResult {
  return { id, title, series: [], ratios: [], targets: [], notes: [], seconds: 0 };
}

export function addSeries(result: MeasureResult, label: string, unit: string, values: number[]): Summary {
  const summary = summarize(values);
  result.series.push({ label, unit, summary });
  return summary;
}

/** Adds `a/b` as a ratio of medians, and round by round when both have one value per round. */
export function addRatio(result: MeasureResult, label: string, a: number[], b: number[]): number {
  const value = median(a) / median(b);
  const ratio: Ratio = { label, value };
  if (a.length === b.length && a.length > 1) ratio.perRound = summarize(a.map((x, i) => x / b[i]!));
  result.ratios.push(ratio);
  return value;
}

export function addTarget(
  result: MeasureResult,
  text: string,
  met: boolean | undefined,
  actual: string,
  note?: string,
): void {
  result.targets.push({ text, met, actual, ...(note ? { note } : {}) });
}

function verdict(met: boolean | undefined): string {
  if (met === true) return 'met';
  if (met === false) return 'MISSED';
  return 'not judged';
}

export function renderMeasure(r: MeasureResult): string {
  const lines: string[] = [`${r.id}  ${r.title}  (${r.seconds.toFixed(0)} s)`];
  if (r.error) lines.push(`    ERROR: ${r.error}`);
  const width = Math.max(28, ...r.series.map((s) => s.label.length), ...r.ratios.map((x) => x.label.length));
  for (const s of r.series) {
    const { median: m, min, max, n } = s.summary;
    lines.push(
      `    ${s.label.padEnd(width)}  median ${`${fmt(m)} ${s.unit}`.padEnd(12)} min–max ${fmt(min)}–${fmt(max)}  n=${n}`,
    );
  }
  for (const x of r.ratios) {
    const rounds = x.perRound
      ? `  (round by round: median ${fmt(x.perRound.median)}×, ${fmt(x.perRound.min)}–${fmt(x.perRound.max)}×)`
      : '';
    lines.push(`    ${x.label.padEnd(width)}  ${fmt(x.value)}×${rounds}`);
  }
  for (const t of r.targets) {
    lines.push(`    target ${t.text}: ${verdict(t.met)} (${t.actual})${t.note ? ` — ${t.note}` : ''}`);
  }
  for (const note of r.notes) lines.push(`    note: ${note}`);
  return lines.join('\n');
}

export function renderTargets(results: MeasureResult[]): string {
  const rows = results.flatMap((r) =>
    r.targets.map((t) => `  ${r.id.padEnd(4)} ${verdict(t.met).padEnd(10)} ${t.text} — ${t.actual}`),
  );
  const errors = results.filter((r) => r.error).map((r) => `  ${r.id.padEnd(4)} ERROR      ${r.error}`);
  return ['Targets (printed, not enforced):', ...rows, ...errors].join('\n');
}
