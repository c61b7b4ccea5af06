import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseGoDuration } from '../../src/plugin/duration.ts';

describe('parseGoDuration', () => {
  const cases: [string, number | undefined][] = [
    ['0', 0],
    ['300ms', 300],
    ['1.5s', 1500],
    ['2m', 120_000],
    ['1h30m', 5_400_000],
    ['1h2m3s4ms', 3_723_004],
    ['.5s', 500],
    ['1500us', 2],
    ['2000000ns', 2],
    ['+10s', 10_000],
    ['', undefined],
    ['10', undefined],
    ['-5s', undefined],
    ['5 s', undefined],
    ['5sec', undefined],
    ['1d', undefined],
    ['s', undefined],
    ['1.2.3s', undefined],
  ];
  for (const [text, expected] of cases) {
    it(`${JSON.stringify(text)} -> ${expected}`, () => {
      assert.equal(parseGoDuration(text), expected);
    });
  }
});
