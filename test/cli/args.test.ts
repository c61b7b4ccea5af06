/**
 * The CLI's argument parser: Go's single-dash spellings, `=` values, booleans, lists, `--`,
 * unknown flags with suggestions, and the help layout.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type FlagSpec,
  formatFlags,
  listFlag,
  parseArgs,
  parseBooleanText,
  parsePairs,
  stringFlag,
  suggest,
  UsageError,
} from '../../src/cli/args.ts';

const SPECS: FlagSpec[] = [
  { name: 'url', type: 'string', value: 'URL', env: 'VCURL', help: 'vCenter URL' },
  { name: 'ignoreOnDestroy', aliases: ['ignore-on-destroy'], type: 'boolean', help: 'keep VMs' },
  { name: 'tag', type: 'list', value: 'K=V', help: 'a tag' },
  { name: 'reason', type: 'string', choices: ['terminate', 'rolling_update'], help: 'why' },
  { name: 'password-file', hidden: ['passwordFile'], type: 'string', value: 'FILE', help: 'password' },
  { name: 'help', aliases: ['h'], type: 'boolean', help: 'help' },
];

describe('parseArgs', () => {
  it('reads --flag value, --flag=value, -flag value and -flag=value alike', () => {
    for (const argv of [
      ['--url', 'https://vc/sdk'],
      ['--url=https://vc/sdk'],
      ['-url', 'https://vc/sdk'],
      ['-url=https://vc/sdk'],
    ]) {
      assert.equal(stringFlag(parseArgs(argv, SPECS), 'url'), 'https://vc/sdk', argv.join(' '));
    }
  });

  it('keeps "=" inside a value', () => {
    assert.equal(stringFlag(parseArgs(['--url=https://a/b?x=1'], SPECS), 'url'), 'https://a/b?x=1');
  });

  it('reads booleans bare or as =true/=false (Go style), under every alias', () => {
    assert.equal(parseArgs(['-ignoreOnDestroy'], SPECS).flags.get('ignoreOnDestroy'), true);
    assert.equal(parseArgs(['--ignore-on-destroy'], SPECS).flags.get('ignoreOnDestroy'), true);
    assert.equal(parseArgs(['-ignoreOnDestroy=false'], SPECS).flags.get('ignoreOnDestroy'), false);
    assert.equal(parseArgs(['--ignoreOnDestroy=TRUE'], SPECS).flags.get('ignoreOnDestroy'), true);
    assert.throws(() => parseArgs(['--ignoreOnDestroy=maybe'], SPECS), UsageError);
  });

  it('takes only true/false, 1/0 and yes/no as a boolean value, and names the flag otherwise', () => {
    for (const [text, value] of [
      ['1', true],
      ['Yes', true],
      ['0', false],
      ['NO', false],
    ] as const) {
      assert.equal(parseArgs([`--ignoreOnDestroy=${text}`], SPECS).flags.get('ignoreOnDestroy'), value, text);
    }
    for (const text of ['t', 'f', 'on', 'off', 'y', '', ' ']) {
      assert.throws(
        () => parseArgs([`-ignoreOnDestroy=${text}`], SPECS),
        (error: unknown) =>
          error instanceof UsageError &&
          /^flag --ignoreOnDestroy: expected true or false \(or 1\/0, yes\/no\), got /.test(error.message),
        JSON.stringify(text),
      );
    }
  });

  it('parseBooleanText reads environment-style text strictly, naming the key', () => {
    assert.equal(parseBooleanText(' TRUE ', 'VCX'), true);
    assert.equal(parseBooleanText('false', 'VCX'), false);
    assert.throws(
      () => parseBooleanText('"false"', 'VCX', 'serve'),
      /^UsageError: VCX: expected true or false/,
    );
    assert.throws(() => parseBooleanText('x'.repeat(30), 'VCX'), /got a long value$/);
  });

  it('does not let a boolean swallow the next argument', () => {
    const parsed = parseArgs(['-ignoreOnDestroy', 'spec.json'], SPECS);
    assert.deepEqual(parsed.positionals, ['spec.json']);
  });

  it('collects repeated list flags in order', () => {
    assert.deepEqual(listFlag(parseArgs(['--tag', 'a=1', '--tag=b=2'], SPECS), 'tag'), ['a=1', 'b=2']);
  });

  it('accepts hidden spellings', () => {
    assert.equal(stringFlag(parseArgs(['--passwordFile', 'pw'], SPECS), 'password-file'), 'pw');
  });

  it('treats "-" as a positional and everything after "--" as positionals', () => {
    const parsed = parseArgs(['-', '--', '--url', 'x'], SPECS);
    assert.deepEqual(parsed.positionals, ['-', '--url', 'x']);
    assert.equal(parsed.flags.size, 0);
  });

  it('refuses unknown flags, with a suggestion when one is close', () => {
    assert.throws(
      () => parseArgs(['--ulr', 'x'], SPECS),
      (error: unknown) =>
        error instanceof UsageError && /unknown flag --ulr \(did you mean --url\?\)/.test(error.message),
    );
    assert.throws(
      () => parseArgs(['--zzzzzzzz'], SPECS),
      (error: unknown) => error instanceof UsageError && !/did you mean/.test(error.message),
    );
  });

  it('does not echo the value of an unknown --flag=value (it may be a secret)', () => {
    assert.throws(
      () => parseArgs(['--password=hunter22'], SPECS),
      (error: unknown) => error instanceof UsageError && !error.message.includes('hunter22'),
    );
  });

  it('refuses a missing value, a value outside the choices, and a repeated single flag', () => {
    assert.throws(() => parseArgs(['--url'], SPECS), /--url needs a value/);
    assert.throws(() => parseArgs(['--reason', 'later'], SPECS), /expected one of terminate, rolling_update/);
    assert.throws(() => parseArgs(['--url', 'a', '--url', 'b'], SPECS), /more than once/);
  });

  it('names the command in usage errors', () => {
    assert.throws(
      () => parseArgs(['--nope'], SPECS, 'describe'),
      (error: unknown) => error instanceof UsageError && error.command === 'describe',
    );
  });
});

describe('parsePairs', () => {
  it('splits on the first "=" and allows empty values', () => {
    assert.deepEqual(parsePairs(['a=1', 'b=x=y', 'c='], 'label'), { a: '1', b: 'x=y', c: '' });
  });
  it('refuses pairs without a key or "="', () => {
    assert.throws(() => parsePairs(['=1'], 'label'), UsageError);
    assert.throws(() => parsePairs(['novalue'], 'label'), /expected key=value/);
  });
  it('refuses one key with two values', () => {
    assert.throws(() => parsePairs(['a=1', 'a=2'], 'label'), /given twice/);
  });
});

describe('suggest', () => {
  it('finds close candidates only', () => {
    assert.equal(suggest('descibe', ['describe', 'destroy']), 'describe');
    assert.equal(suggest('DATASTORE', ['datastore']), 'datastore');
    assert.equal(suggest('xyz', ['describe']), undefined);
  });
});

describe('formatFlags', () => {
  it('shows names, one-letter aliases with one dash, env and defaults, but not hidden spellings', () => {
    const text = formatFlags(SPECS);
    assert.match(text, /--url URL +vCenter URL \[env VCURL\]/);
    assert.match(text, /--help, -h/);
    assert.match(text, /--ignoreOnDestroy, --ignore-on-destroy/);
    assert.doesNotMatch(text, /passwordFile/);
    assert.match(text, /\[one of terminate, rolling_update\]/);
    for (const line of text.split('\n')) assert.ok(line.length <= 100, line);
  });
});
