/**
 * `--timeout`'s duration syntax, as Go's time.ParseDuration reads it, and the flag's usage errors.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseArgs, UsageError } from '../../src/cli/args.ts';
import { formatDuration, parseDuration } from '../../src/cli/duration.ts';
import { COMMAND_TIMEOUT_FLAG, timeoutFlag, withinTimeout } from '../../src/cli/timeout.ts';
import { TimeoutError } from '../../src/transport/errors.ts';

describe('parseDuration', () => {
  it('reads what time.ParseDuration reads, in milliseconds', () => {
    const cases: [string, number][] = [
      ['300ms', 300],
      ['1.5s', 1500],
      ['2m', 120_000],
      ['1h30m', 5_400_000],
      ['1h0m0.5s', 3_600_500],
      ['0', 0],
      ['+5s', 5000],
      ['-1.5h', -5_400_000],
      ['.5s', 500],
      ['1.s', 1000],
      ['1500us', 1.5],
      ['1500µs', 1.5],
      ['1500μs', 1.5],
      ['2000000ns', 2],
      ['1m1m', 120_000],
    ];
    for (const [text, ms] of cases) assert.equal(parseDuration(text), ms, text);
  });

  it('refuses junk: no unit, unknown units, spaces, empty, a lone sign or dot', () => {
    for (const text of [
      '',
      '10',
      '1.5',
      's',
      '-',
      '+',
      '.',
      '.s',
      '10 s',
      ' 1s',
      '1s ',
      '1d',
      '1S',
      '1sec',
      '1h-30m',
      'ms',
      '1e3ms',
      'Infinitys',
      '0x10s',
    ])
      assert.equal(parseDuration(text), undefined, JSON.stringify(text));
  });

  it('formats the shortest Go form', () => {
    assert.equal(formatDuration(120_000), '2m0s');
    assert.equal(formatDuration(1500), '1.5s');
    assert.equal(formatDuration(300), '300ms');
    assert.equal(formatDuration(5_400_000), '1h30m0s');
    for (const ms of [300, 1500, 120_000, 5_400_000]) assert.equal(parseDuration(formatDuration(ms)), ms);
  });
});

describe('--timeout', () => {
  const parse = (argv: string[]) => parseArgs(argv, [COMMAND_TIMEOUT_FLAG], 'describe');

  it('is undefined when absent and milliseconds when given', () => {
    assert.equal(timeoutFlag(parse([]), 'describe'), undefined);
    assert.equal(timeoutFlag(parse(['--timeout', '1.5s']), 'describe'), 1500);
    assert.equal(timeoutFlag(parse(['-timeout=2m']), 'describe'), 120_000);
  });

  it('junk, zero, negative or too long is a usage error naming the flag', () => {
    for (const value of ['10', 'soon', '0', '0s', '-1s', '1000h', '0.1ms']) {
      assert.throws(
        () => timeoutFlag(parse(['--timeout', value]), 'describe'),
        (error: unknown) =>
          error instanceof UsageError && error.command === 'describe' && /--timeout/.test(error.message),
        value,
      );
    }
  });

  it('withinTimeout fails with a TimeoutError naming the command, and aborts the work', async () => {
    let seen: AbortSignal | undefined;
    const started = performance.now();
    await assert.rejects(
      withinTimeout('describe', 50, (signal) => {
        seen = signal;
        return new Promise(() => undefined);
      }),
      (error: unknown) =>
        error instanceof TimeoutError && error.timeoutMs === 50 && /^describe timed out/.test(error.message),
    );
    assert.ok(performance.now() - started < 2000);
    assert.equal(seen?.aborted, true);
    assert.equal(await withinTimeout('x', 1000, async () => 7), 7);
  });
});
