/** The benchmark's arithmetic (test/bench/lib): medians, same-run ratios, verdicts, profile summaries. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addRatio, addSeries, addTarget, newResult, renderMeasure, renderTargets } from './lib/report.ts';
import { fmt, median, summarize } from './lib/stats.ts';
import { summarizeProfile } from './profile.ts';

describe('bench stats', () => {
  it('takes the median of odd and even counts without reordering the input', () => {
    const values = [5, 1, 3];
    assert.equal(median(values), 3);
    assert.deepEqual(values, [5, 1, 3]);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.ok(Number.isNaN(median([])));
  });

  it('summarises median and range', () => {
    assert.deepEqual(summarize([2, 9, 4]), { n: 3, median: 4, min: 2, max: 9, values: [2, 9, 4] });
  });

  it('formats three significant digits', () => {
    assert.equal(fmt(1234.5), '1235');
    assert.equal(fmt(12.345), '12.3');
    assert.equal(fmt(1.2345), '1.23');
    assert.equal(fmt(0.012345), '0.0123');
  });
});

describe('bench report', () => {
  it('computes ratios of medians and round by round', () => {
    const r = newResult('P9', 'test');
    const value = addRatio(r, 'a / b', [10, 20, 30], [10, 10, 10]);
    assert.equal(value, 2);
    assert.deepEqual(r.ratios[0]?.perRound?.values, [1, 2, 3]);
  });

  it('prints every series, ratio and verdict, and never throws on a missed target', () => {
    const r = newResult('P9', 'test measure');
    addSeries(r, 'ours', 'ms', [3, 1, 2]);
    addTarget(r, '≤ 1 ms', false, '2 ms');
    addTarget(r, 'at size', undefined, '5', 'measured small');
    const text = renderMeasure(r);
    assert.match(text, /ours\s+median 2\.00 ms\s+min–max 1\.00–3\.00\s+n=3/);
    assert.match(text, /target ≤ 1 ms: MISSED \(2 ms\)/);
    assert.match(text, /not judged \(5\) — measured small/);
    assert.match(renderTargets([r]), /P9\s+MISSED/);
  });
});

describe('bench profile summary', () => {
  it('adds self time by function and file', () => {
    const frame = (functionName: string, url: string) => ({ functionName, url, lineNumber: 0 });
    const summary = summarizeProfile({
      nodes: [
        { id: 1, callFrame: frame('(root)', '') },
        { id: 2, callFrame: frame('decode', 'file:///x/src/vim25/decode.ts') },
        { id: 3, callFrame: frame('open', 'file:///x/src/vim25/decode.ts') },
      ],
      startTime: 0,
      endTime: 10_000,
      samples: [2, 2, 3, 1],
      timeDeltas: [1000, 1000, 500, 100],
    });
    assert.equal(summary.totalMs, 10);
    assert.deepEqual(summary.byFile[0], { file: 'src/vim25/decode.ts', ms: 2.5 });
    assert.equal(summary.byFunction[0]?.name, 'decode src/vim25/decode.ts:1');
  });
});
