/**
 * `--timeout`: how long the CLI waits for vCenter. A one-shot command is bounded as a whole (and
 * each of its vCenter calls by the same amount); for `serve` it is the timeout of each call.
 */
import { TimeoutError } from '../transport/errors.ts';
import { type FlagSpec, type ParsedArgs, stringFlag, UsageError } from './args.ts';
import { formatDuration, parseDuration } from './duration.ts';

/**
 * The timeout of each vCenter call when `--timeout` is not given (the library's default); a
 * one-shot command then has no bound as a whole beyond its calls'.
 */
export const DEFAULT_CALL_TIMEOUT_MS = 120_000;

const LONGEST_MS = 2 ** 31 - 1; // what setTimeout can wait

/** `--timeout` of a one-shot command. */
export const COMMAND_TIMEOUT_FLAG: FlagSpec = {
  name: 'timeout',
  type: 'string',
  value: 'DURATION',
  help: `give up after DURATION, a Go duration (300ms, 1.5s, 2m, 1h30m): the whole command, and each vCenter call (exit 5) [default: no bound for the command, ${formatDuration(DEFAULT_CALL_TIMEOUT_MS)} per call]`,
};

/** `--timeout` of serve. */
export const SERVE_TIMEOUT_FLAG: FlagSpec = {
  name: 'timeout',
  type: 'string',
  value: 'DURATION',
  default: formatDuration(DEFAULT_CALL_TIMEOUT_MS),
  help: 'timeout of each vCenter call, a Go duration (300ms, 1.5s, 2m, 1h30m), and of the start-up login check',
};

/** The `--timeout` in ms, undefined when absent; junk, zero or too long is a usage error. */
export function timeoutFlag(parsed: ParsedArgs, command: string): number | undefined {
  const text = stringFlag(parsed, 'timeout');
  if (text === undefined) return undefined;
  const ms = parseDuration(text);
  if (ms === undefined) {
    throw new UsageError(
      `--timeout ${JSON.stringify(text)}: expected a duration such as 300ms, 1.5s, 2m or 1h30m`,
      command,
    );
  }
  if (ms < 1 || ms > LONGEST_MS) {
    throw new UsageError(`--timeout ${text}: expected more than 1ms and at most 596h`, command);
  }
  return Math.round(ms);
}

/**
 * Runs `work` with a signal that aborts after `ms`, and fails with a TimeoutError naming `what`
 * as soon as it does: the command ends on time even where the provider does not take the signal
 * (validate, label), and its calls end at their own deadlines, which are no later.
 */
export async function withinTimeout<T>(
  what: string,
  ms: number,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new TimeoutError(what, ms);
      controller.abort(error);
      reject(error);
    }, ms);
  });
  try {
    return await Promise.race([work(controller.signal), expired]);
  } catch (error) {
    // An AbortError from the signal above is the timeout seen from inside.
    if (controller.signal.aborted) throw controller.signal.reason;
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
