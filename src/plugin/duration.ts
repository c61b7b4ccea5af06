/**
 * Durations as Go's `time.ParseDuration` reads them (`300ms`, `1.5s`, `2m`, `1h30m`), the
 * syntax InfraKit's own flags and the original plugin's users know. Pure; no I/O.
 */

const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/**
 * Milliseconds of a Go duration, or undefined when `text` is not one. Negative durations are
 * refused (no flag here means "in the past"); `0` alone is allowed, as in Go.
 */
export function parseGoDuration(text: string): number | undefined {
  const input = text.trim();
  if (input === '0' || input === '+0') return 0;
  const body = input.startsWith('+') ? input.slice(1) : input;
  if (body === '') return undefined;
  const part = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
  let total = 0;
  let at = 0;
  while (at < body.length) {
    part.lastIndex = at;
    const match = part.exec(body);
    if (!match) return undefined;
    total += Number(match[1]) * UNIT_MS[match[2]!]!;
    at = part.lastIndex;
  }
  return Number.isFinite(total) ? Math.round(total) : undefined;
}
