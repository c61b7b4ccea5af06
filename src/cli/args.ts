/**
 * A small command-line parser for the CLI: `--flag value`, `--flag=value`, and the single-dash
 * spellings of Go's flag package (`-url value`, `-ignoreOnDestroy`, `-ignoreOnDestroy=false`) that
 * InfraKit start scripts used with the original plugin. `--` ends the flags.
 */

import { parseDuration } from './duration.ts';

/** The command line is wrong: exit code 2. */
export class UsageError extends Error {
  readonly code = 'USAGE';
  /** The command whose `--help` to point at. */
  readonly command: string | undefined;
  constructor(message: string, command?: string) {
    super(message);
    this.name = 'UsageError';
    this.command = command;
  }
}

export interface FlagSpec {
  /** Canonical name, used as the key of the parsed result (`url`, `ignoreOnDestroy`). */
  name: string;
  /** Other accepted spellings, shown in help (`ignore-on-destroy`; one letter shows as `-h`). */
  aliases?: readonly string[];
  /** Other accepted spellings not shown in help (`passwordFile`). */
  hidden?: readonly string[];
  /** `string`: takes a value; `boolean`: none (or `=true`/`=false`, `=1`/`=0`, `=yes`/`=no`); `list`: a value, repeatable. */
  type: 'string' | 'boolean' | 'list';
  /** Placeholder of the value in help (`URL`, `FILE`). */
  value?: string;
  /** Environment variable read when the flag is absent (shown in help; its value never is). */
  env?: string;
  /** Default shown in help. Never a secret. */
  default?: string;
  /** Allowed values. */
  choices?: readonly string[];
  help: string;
}

export type FlagValue = string | boolean | string[];

export interface ParsedArgs {
  flags: Map<string, FlagValue>;
  positionals: string[];
}

// Only spellings nobody writes by accident: "t", "on" or "y" are refused rather than guessed at.
const TRUE = new Set(['true', '1', 'yes']);
const FALSE = new Set(['false', '0', 'no']);

/**
 * A boolean written as text (a flag's `=value`, an environment variable): true/false, 1/0 or
 * yes/no in any case. Anything else is a {@link UsageError} naming `key`: a value that merely looks
 * set must not switch something like `insecure` on.
 */
export function parseBooleanText(text: string, key: string, command?: string): boolean {
  const word = text.trim().toLowerCase();
  if (TRUE.has(word)) return true;
  if (FALSE.has(word)) return false;
  const shown = text.length <= 20 ? JSON.stringify(text) : 'a long value';
  throw new UsageError(`${key}: expected true or false (or 1/0, yes/no), got ${shown}`, command);
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j += 1) {
      const above = row[j]!;
      row[j] = Math.min(above + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

/** The closest of `candidates` to `word`, when it is close enough to be a likely typo. */
export function suggest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const d = distance(word.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

/**
 * Parses `argv` against `specs`. Flags and positionals may be mixed; `-` alone is a positional
 * (standard input). Throws {@link UsageError} for an unknown flag, a missing value, a value for a
 * boolean that is not true/false, or a value outside `choices`.
 */
export function parseArgs(argv: readonly string[], specs: readonly FlagSpec[], command?: string): ParsedArgs {
  const byName = new Map<string, FlagSpec>();
  for (const spec of specs) {
    byName.set(spec.name, spec);
    for (const alias of [...(spec.aliases ?? []), ...(spec.hidden ?? [])]) byName.set(alias, spec);
  }
  const flags = new Map<string, FlagValue>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    const body = arg.startsWith('--') ? arg.slice(2) : arg.slice(1);
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    const inline = eq >= 0 ? body.slice(eq + 1) : undefined;
    const spec = byName.get(name);
    if (spec === undefined) {
      const hint = suggest(name, byName.keys());
      throw new UsageError(
        `unknown flag ${arg.slice(0, arg.length - (inline === undefined ? 0 : inline.length + 1))}${
          hint === undefined ? '' : ` (did you mean --${hint}?)`
        }`,
        command,
      );
    }
    if (spec.type === 'boolean') {
      flags.set(spec.name, inline === undefined ? true : parseBooleanText(inline, `flag --${name}`, command));
      continue;
    }
    let value = inline;
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new UsageError(`flag --${name} needs a value`, command);
      i += 1;
      value = argv[i]!;
    }
    if (spec.choices !== undefined && !spec.choices.includes(value)) {
      throw new UsageError(`flag --${name}: expected one of ${spec.choices.join(', ')}`, command);
    }
    if (spec.type === 'list') {
      const list = flags.get(spec.name);
      flags.set(spec.name, Array.isArray(list) ? [...list, value] : [value]);
    } else {
      if (flags.has(spec.name)) throw new UsageError(`flag --${name} given more than once`, command);
      flags.set(spec.name, value);
    }
  }
  return { flags, positionals };
}

/** A string flag's value. */
export function stringFlag(parsed: ParsedArgs, name: string): string | undefined {
  const value = parsed.flags.get(name);
  return typeof value === 'string' ? value : undefined;
}

/** A boolean flag's value (undefined when absent). */
export function booleanFlag(parsed: ParsedArgs, name: string): boolean | undefined {
  const value = parsed.flags.get(name);
  return typeof value === 'boolean' ? value : undefined;
}

/** A duration flag's value in ms (Go syntax: `90s`, `2m`, `1h30m`); undefined when absent. */
export function durationFlag(parsed: ParsedArgs, name: string, command?: string): number | undefined {
  const value = stringFlag(parsed, name);
  if (value === undefined) return undefined;
  const ms = parseDuration(value);
  if (ms === undefined || ms < 0) {
    throw new UsageError(
      `--${name} ${JSON.stringify(value)}: expected a duration such as 300ms, 90s, 2m or 1h30m`,
      command,
    );
  }
  return Math.round(ms);
}

/** A list flag's values. */
export function listFlag(parsed: ParsedArgs, name: string): string[] {
  const value = parsed.flags.get(name);
  return Array.isArray(value) ? value : [];
}

/** Parses `k=v` pairs (labels, tags); the key must be non-empty. */
export function parsePairs(pairs: readonly string[], what: string, command?: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`${what} ${JSON.stringify(pair)}: expected key=value`, command);
    const key = pair.slice(0, eq);
    if (Object.hasOwn(out, key) && out[key] !== pair.slice(eq + 1)) {
      throw new UsageError(`${what} ${key} given twice with different values`, command);
    }
    out[key] = pair.slice(eq + 1);
  }
  return out;
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines;
}

/** Formats the flags section of a help text (about 100 columns wide). */
export function formatFlags(specs: readonly FlagSpec[]): string {
  const rows = specs.map((spec) => {
    const names = [spec.name, ...(spec.aliases ?? [])]
      .map((n) => (n.length === 1 ? `-${n}` : `--${n}`))
      .join(', ');
    const left = `${names}${spec.value === undefined ? '' : ` ${spec.value}`}`;
    const notes: string[] = [];
    if (spec.choices !== undefined) notes.push(`one of ${spec.choices.join(', ')}`);
    if (spec.default !== undefined) notes.push(`default ${spec.default}`);
    if (spec.env !== undefined) notes.push(`env ${spec.env}`);
    if (spec.type === 'list') notes.push('repeatable');
    return { left, right: `${spec.help}${notes.length > 0 ? ` [${notes.join('; ')}]` : ''}` };
  });
  const width = Math.min(28, Math.max(...rows.map((r) => r.left.length)));
  const indent = ' '.repeat(width + 4);
  return rows
    .map(({ left, right }) => {
      const [first = '', ...rest] = wrap(right, 100 - indent.length);
      const head = left.length > width ? `  ${left}\n${indent}${first}` : `  ${left.padEnd(width)}  ${first}`;
      return [head, ...rest.map((r) => `${indent}${r}`)].join('\n');
    })
    .join('\n');
}
