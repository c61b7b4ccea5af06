/** The `--config` file: subtypes, each with its own vCenter and defaults (docs/cli.md). */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { describeValue } from '../options.ts';
import { suggest, UsageError } from './args.ts';

/** One subtype's entry in the `--config` file. */
export interface SubtypeConfig {
  url?: string;
  username?: string;
  password?: string;
  passwordFile?: string;
  passwordEnv?: string;
  datacenter?: string;
  datastore?: string;
  network?: string;
  hostname?: string;
  folder?: string;
  vmPrefix?: string;
  ignoreOnDestroy?: boolean;
  configHashTag?: string;
  shutdownTimeoutMs?: number;
  maxConcurrentBuildsPerHost?: number;
  caFile?: string;
  thumbprint?: string;
  insecure?: boolean;
}

const STRING_KEYS = [
  'url',
  'username',
  'password',
  'passwordFile',
  'passwordEnv',
  'datacenter',
  'datastore',
  'network',
  'hostname',
  'folder',
  'vmPrefix',
  'configHashTag',
  'caFile',
  'thumbprint',
] as const;
const BOOLEAN_KEYS = ['ignoreOnDestroy', 'insecure'] as const;
const NUMBER_KEYS = ['shutdownTimeoutMs', 'maxConcurrentBuildsPerHost'] as const;
const SUBTYPE_KEYS: readonly string[] = [...STRING_KEYS, ...BOOLEAN_KEYS, ...NUMBER_KEYS];

const SUBTYPE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** A parsed `--config` file: subtype name (`''` = default) → entry; file paths already absolute. */
export type ConfigFile = Map<string, SubtypeConfig>;

function configError(file: string, message: string, command?: string): UsageError {
  return new UsageError(`config ${file}: ${message}`, command);
}

/**
 * Where JSON.parse failed, as ` (at position N (line L column C))`, or nothing. Never its whole
 * message: V8 quotes the text around the error there, which in a config file is often a password.
 */
export function jsonErrorWhere(error: unknown): string {
  const where = /at position \d+(?: \(line \d+ column \d+\))?/.exec(String((error as Error)?.message));
  return where ? ` (${where[0]})` : '';
}

/**
 * Reads and checks a `--config` file: `{"subtypes": {"": {...}, "lab": {...}}}`. Every problem is a
 * {@link UsageError} naming the file and the key. Relative `passwordFile`/`caFile` paths are
 * relative to the file's directory.
 */
export async function loadConfigFile(path: string, command?: string): Promise<ConfigFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw configError(path, `cannot read it (${(error as NodeJS.ErrnoException).code ?? 'error'})`, command);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw configError(path, `not JSON${jsonErrorWhere(error)}`, command);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw configError(path, 'expected an object {"subtypes": {...}}', command);
  }
  const top = data as Record<string, unknown>;
  for (const key of Object.keys(top)) {
    if (key !== 'subtypes') {
      const hint = suggest(key, ['subtypes']);
      throw configError(path, `unknown key ${JSON.stringify(key)}${hint ? ` (did you mean ${hint}?)` : ''}`);
    }
  }
  const subtypes = top.subtypes;
  if (typeof subtypes !== 'object' || subtypes === null || Array.isArray(subtypes)) {
    throw configError(path, '"subtypes" must be an object of subtype name → options', command);
  }
  const entries = Object.entries(subtypes as Record<string, unknown>);
  if (entries.length === 0) throw configError(path, '"subtypes" is empty', command);
  const base = dirname(resolve(path));
  const out: ConfigFile = new Map();
  const problems: string[] = [];
  for (const [rawName, raw] of entries) {
    const name = rawName === '.' ? '' : rawName;
    const where = `subtypes[${JSON.stringify(rawName)}]`;
    if (name !== '' && !SUBTYPE_NAME.test(name)) {
      problems.push(`${where}: a subtype name is letters, digits, ".", "_" or "-" (no "/")`);
      continue;
    }
    if (out.has(name)) {
      problems.push(`${where}: the default subtype is given twice ("" and ".")`);
      continue;
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      problems.push(`${where}: expected an object of options`);
      continue;
    }
    const entry: SubtypeConfig = {};
    for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
      if (value === null) continue;
      const at = `${where}.${key}`;
      if ((STRING_KEYS as readonly string[]).includes(key)) {
        if (typeof value !== 'string' || value === '') problems.push(`${at}: expected a non-empty string`);
        else (entry as Record<string, unknown>)[key] = value;
      } else if ((BOOLEAN_KEYS as readonly string[]).includes(key)) {
        // JSON has booleans: a string here is a mistake, never a boolean spelled as text.
        if (typeof value !== 'boolean')
          problems.push(`${at}: expected true or false (a JSON boolean), got ${describeValue(value)}`);
        else (entry as Record<string, unknown>)[key] = value;
      } else if ((NUMBER_KEYS as readonly string[]).includes(key)) {
        if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
          problems.push(`${at}: expected a whole number >= 0`);
        } else (entry as Record<string, unknown>)[key] = value;
      } else {
        const hint = suggest(key, SUBTYPE_KEYS);
        problems.push(`${at}: unknown key${hint ? ` (did you mean ${hint}?)` : ''}`);
      }
    }
    const passwordSources = ['password', 'passwordFile', 'passwordEnv'].filter((k) => k in entry);
    if (passwordSources.length > 1) {
      problems.push(`${where}: give one of ${passwordSources.join(', ')}, not several`);
    }
    const trust = ['caFile', 'thumbprint'].filter((k) => k in entry);
    if (entry.insecure === true && trust.length > 0) {
      problems.push(
        `${where}: insecure cannot be combined with ${trust.join(' or ')} (choose one trust mode)`,
      );
    } else if (trust.length > 1) {
      problems.push(
        `${where}: give caFile or thumbprint, not both (a pinned certificate is trusted whatever its chain)`,
      );
    }
    if (entry.passwordFile !== undefined) entry.passwordFile = resolve(base, entry.passwordFile);
    if (entry.caFile !== undefined) entry.caFile = resolve(base, entry.caFile);
    out.set(name, entry);
  }
  if (problems.length > 0) throw configError(path, problems.join('; '), command);
  return out;
}
