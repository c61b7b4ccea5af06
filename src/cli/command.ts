/**
 * The shape of a CLI command and the helpers its implementations share.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ValidationError } from '../errors.ts';
import type { JsonValue } from '../spi/instance.ts';
import { TimeoutError } from '../transport/errors.ts';
import { type FlagSpec, type ParsedArgs, stringFlag, UsageError } from './args.ts';
import { jsonErrorWhere } from './config-file.ts';
import type { CliIo, CliProvider, ProviderFactory } from './io.ts';
import { configureLogging, type LogLevel } from './logging.ts';
import type { Secrets } from './secrets.ts';
import { makeProvider, resolveSubtypes } from './subtypes.ts';
import { timeoutFlag, withinTimeout } from './timeout.ts';

/** What a command runs with: I/O already scrubbed of secrets. */
export interface CommandContext {
  io: CliIo;
  secrets: Secrets;
  factory: ProviderFactory;
  version: string;
  /** The vCenter SDK URL (no credentials) last connected to, for error hints. */
  endpoint?: string;
}

export interface Command {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** `describe [--group G] [flags]` */
  usage: string;
  /** Paragraphs after the usage line. */
  description: string;
  /** Extra sections after the flags (environment, examples). */
  footer?: string;
  flags: readonly FlagSpec[];
  run(parsed: ParsedArgs, ctx: CommandContext): Promise<number>;
}

/** Sets up logging from `--log-level` (default `fallback`). */
export function setupLogging(parsed: ParsedArgs, ctx: CommandContext, fallback: LogLevel): void {
  const level = (stringFlag(parsed, 'log-level') ?? fallback) as LogLevel;
  configureLogging(level, ctx.io.env, ctx.io.stderr);
}

/** How long a command that timed out waits for its logout (vCenter is likely not answering). */
const CLOSE_AFTER_TIMEOUT_MS = 1_000;

/**
 * Runs `fn` with the provider of the subtype `--type` names, and closes it after. With `--timeout`,
 * every vCenter call of the provider gets that timeout, and the whole of `fn` is bounded by it too:
 * `fn` gets a signal that aborts then, and the command fails with a TimeoutError even where the
 * signal does not reach.
 */
export async function withProvider<T>(
  parsed: ParsedArgs,
  ctx: CommandContext,
  command: string,
  fn: (provider: CliProvider, signal: AbortSignal | undefined) => Promise<T>,
): Promise<T> {
  const timeoutMs = timeoutFlag(parsed, command);
  const [resolved] = await resolveSubtypes(
    parsed,
    ctx.io,
    ctx.secrets,
    command,
    stringFlag(parsed, 'type') ?? '',
  );
  if (resolved === undefined) throw new UsageError('no subtype to use', command);
  ctx.endpoint = resolved.endpoint;
  const provider = makeProvider(
    timeoutMs === undefined ? resolved : { ...resolved, options: { ...resolved.options, timeoutMs } },
    ctx.factory,
    command,
  );
  let timedOut = false;
  try {
    if (timeoutMs === undefined) return await fn(provider, undefined);
    return await withinTimeout(command, timeoutMs, (signal) => fn(provider, signal));
  } catch (error) {
    timedOut = error instanceof TimeoutError;
    throw error;
  } finally {
    const closed = provider.close().catch(() => undefined);
    if (timedOut) await within(closed, CLOSE_AFTER_TIMEOUT_MS);
    else await closed;
  }
}

function within(work: Promise<unknown>, ms: number): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([work, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]).finally(() =>
    clearTimeout(timer),
  );
}

async function readAll(stream: AsyncIterable<string | Buffer>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Reads a JSON document from a file or `-` (standard input). An unreadable file is a usage
 * error; text that is not JSON is a validation error.
 */
export async function readJsonInput(
  source: string,
  ctx: CommandContext,
  command: string,
): Promise<JsonValue> {
  let text: string;
  if (source === '-') {
    text = await readAll(ctx.io.stdin);
  } else {
    try {
      text = await readFile(resolve(ctx.io.cwd, source), 'utf8');
    } catch (error) {
      throw new UsageError(
        `${source}: cannot read it (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
        command,
      );
    }
  }
  try {
    return JSON.parse(text) as JsonValue;
  } catch (error) {
    throw new ValidationError(
      [{ field: source === '-' ? 'stdin' : source, message: `not JSON${jsonErrorWhere(error)}` }],
      'invalid input',
    );
  }
}

/** Exactly `count` positionals, or a usage error naming what is missing or extra. */
export function positionals(parsed: ParsedArgs, names: readonly string[], command: string): string[] {
  const got = parsed.positionals;
  if (got.length < names.length)
    throw new UsageError(`missing ${names.slice(got.length).join(' ')}`, command);
  if (got.length > names.length)
    throw new UsageError(`unexpected argument ${JSON.stringify(got[names.length])}`, command);
  return got;
}

export function writeJson(ctx: CommandContext, value: unknown): void {
  ctx.io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
