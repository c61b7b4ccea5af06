/**
 * What the CLI prints: exit codes and error lines, instance tables, and upload progress.
 */
import { connect } from 'node:tls';
import { ValidationError, VSphereError } from '../errors.ts';
import type { InstanceDescription } from '../spi/instance.ts';
import { AmbiguousNameError, NotFoundError } from '../vsphere/errors.ts';
import { UsageError } from './args.ts';
import type { TextOutput } from './io.ts';

/** The CLI's exit codes. */
export const ExitCode = {
  /** Done. */
  ok: 0,
  /** The operation failed (vCenter refused it, a task failed, the instance does not exist, ...). */
  failed: 1,
  /** The command line or the `--config` file is wrong. */
  usage: 2,
  /** The input (properties, spec, labels) was rejected: every problem is listed. */
  validation: 3,
  /** vCenter could not be reached or refused the login (network, TLS trust, credentials). */
  connection: 4,
  /**
   * vCenter did not answer in time (`--timeout`, or a call's timeout): it may be stalled or
   * overloaded, and what the command asked for may or may not have been done.
   */
  timeout: 5,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

const CONNECTION_CODES = new Set(['TRANSPORT', 'TLS_UNTRUSTED', 'TLS_THUMBPRINT_MISMATCH', 'LOGIN_FAILED']);

/** The exit code for an error. */
export function exitCodeFor(error: unknown): ExitCodeValue {
  if (error instanceof UsageError) return ExitCode.usage;
  if (error instanceof ValidationError) return ExitCode.validation;
  if (error instanceof NotFoundError || error instanceof AmbiguousNameError) {
    // Something the input names does not exist (a datastore, a template): the input is wrong.
    // The instance itself missing (label, destroy) is a failed operation.
    return error.field === undefined || error.field === 'Instance' ? ExitCode.failed : ExitCode.validation;
  }
  if (error instanceof VSphereError && error.code === 'TIMEOUT') return ExitCode.timeout;
  if (error instanceof VSphereError && CONNECTION_CODES.has(error.code)) return ExitCode.connection;
  if (error instanceof VSphereError && error.code === 'HTTP_STATUS') {
    const status = (error as { status?: unknown }).status;
    if (status === 401 || status === 403 || status === 407 || status === 502 || status === 503)
      return ExitCode.connection;
  }
  return ExitCode.failed;
}

/** A one-line description of an error for stderr. */
export function errorLine(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const message = error.message === '' ? error.name : error.message;
    return typeof code === 'string' && code !== 'USAGE' ? `${message} (${code})` : message;
  }
  return String(error);
}

/** The JSON form of an error for `--json` output. */
export function errorJson(error: unknown): { error: { code: string; message: string; issues?: unknown } } {
  const code = error instanceof Error ? (error as { code?: unknown }).code : undefined;
  return {
    error: {
      code: typeof code === 'string' ? code : 'ERROR',
      message: error instanceof Error ? error.message : String(error),
      ...(error instanceof ValidationError ? { issues: error.issues } : {}),
    },
  };
}

/** Lays rows out in columns separated by two spaces; the last column is not padded. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}

/** `k=v` pairs sorted by key, without `guestIP` (it has its own column). */
export function formatTags(tags: Record<string, string>, omit: readonly string[] = ['guestIP']): string {
  return Object.keys(tags)
    .filter((k) => !omit.includes(k))
    .sort()
    .map((k) => `${k}=${tags[k]}`)
    .join(' ');
}

/** Power state of a description that carries properties (`PowerState`), else `-`. */
export function powerOf(description: InstanceDescription): string {
  const props = description.Properties;
  if (typeof props === 'object' && props !== null && !Array.isArray(props)) {
    const state = props.PowerState;
    if (typeof state === 'string' && state !== '') return state.replace(/^powered/, '').toLowerCase();
  }
  return description.Tags['infrakit.state']?.toLowerCase() ?? '-';
}

/** The instance table: NAME, POWER, IP, TAGS. */
export function instanceTable(descriptions: readonly InstanceDescription[]): string {
  const sorted = [...descriptions].sort((a, b) => a.ID.localeCompare(b.ID));
  return formatTable(
    ['NAME', 'POWER', 'IP', 'TAGS'],
    sorted.map((d) => [
      d.ID,
      powerOf(d),
      d.Tags.guestIP === undefined || d.Tags.guestIP === '' ? '-' : d.Tags.guestIP,
      formatTags(d.Tags),
    ]),
  );
}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

/** Reports upload progress: a redrawn bar on a terminal, plain percentage lines otherwise. */
export class ProgressReporter {
  readonly #out: TextOutput;
  readonly #label: string;
  readonly #now: () => number;
  readonly #started: number;
  #lastDraw = 0;
  #lastDecile = -1;
  #drawn = false;
  #finished = false;

  constructor(out: TextOutput, label: string, now: () => number = Date.now) {
    this.#out = out;
    this.#label = label;
    this.#now = now;
    this.#started = now();
  }

  update(sent: number, total: number): void {
    if (this.#finished) return;
    const percent = total > 0 ? Math.min(100, Math.floor((sent / total) * 100)) : 100;
    if (this.#out.isTTY) {
      const now = this.#now();
      if (sent < total && now - this.#lastDraw < 100) return;
      this.#lastDraw = now;
      const seconds = Math.max((now - this.#started) / 1000, 0.001);
      const rate = `${mib(sent / seconds)}/s`;
      const text = ` ${String(percent).padStart(3)}%  ${mib(sent)} / ${mib(total)}  ${rate}`;
      const columns = this.#out.columns ?? 80;
      const width = Math.max(10, Math.min(40, columns - this.#label.length - text.length - 4));
      const filled = Math.round((percent / 100) * width);
      this.#out.write(`\r${this.#label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}]${text}\x1b[K`);
      this.#drawn = true;
    } else {
      const decile = Math.floor(percent / 10);
      if (decile <= this.#lastDecile) return;
      this.#lastDecile = decile;
      this.#out.write(`${this.#label}: ${decile * 10}% (${mib(sent)} of ${mib(total)})\n`);
    }
  }

  /** Ends the bar's line (after the last update, or on failure). */
  finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    if (this.#drawn) this.#out.write('\n');
  }
}

/**
 * The SHA-256 thumbprint of the certificate `sdkUrl` presents, read without trusting it, so that an
 * operator told "not trusted" can check and pin it. Undefined when it cannot be read in 5 s.
 */
export function probeThumbprint(sdkUrl: string | undefined): Promise<string | undefined> {
  if (sdkUrl === undefined) return Promise.resolve(undefined);
  let url: URL;
  try {
    url = new URL(sdkUrl);
  } catch {
    return Promise.resolve(undefined);
  }
  if (url.protocol !== 'https:') return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const socket = connect({
      host,
      port: Number(url.port || 443),
      rejectUnauthorized: false,
      ...(/^[\d.]+$|:/.test(host) ? {} : { servername: host }),
    });
    const finish = (value: string | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(value);
    };
    const timer = setTimeout(() => finish(undefined), 5000);
    socket.once('secureConnect', () => finish(socket.getPeerCertificate().fingerprint256 || undefined));
    socket.once('error', () => finish(undefined));
  });
}
