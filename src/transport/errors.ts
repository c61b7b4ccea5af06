import { VSphereError } from '../errors.ts';
import { DecodeError } from '../vim25/errors.ts';

/** The connection to vCenter failed (refused, reset, DNS, truncated response). Safe to retry only for idempotent calls. */
export class TransportError extends VSphereError {
  /** The underlying system error code, e.g. `ECONNRESET`, when there is one. */
  readonly errno: string | undefined;
  constructor(message: string, options: { cause?: unknown; errno?: string } = {}) {
    super('TRANSPORT', message, { cause: options.cause });
    this.errno = options.errno;
  }
}

/** A call took longer than its timeout. The request may or may not have reached vCenter. */
export class TimeoutError extends VSphereError {
  readonly timeoutMs: number;
  constructor(what: string, timeoutMs: number) {
    super('TIMEOUT', `${what} timed out after ${timeoutMs} ms`);
    this.timeoutMs = timeoutMs;
  }
}

/** The caller's AbortSignal fired. */
export class AbortError extends VSphereError {
  constructor(what: string, options: { cause?: unknown } = {}) {
    super('ABORTED', `${what} was aborted`, options);
  }
}

/**
 * `work`, or, as soon as `signal` fires (or at once when it already has), a rejection: the
 * signal's reason when that is a {@link TimeoutError} (a deadline ran out, nobody aborted), else an
 * {@link AbortError} for `what`. The work goes on for whoever else awaits it; its outcome is then
 * ignored here, so a later failure of it is no unhandled rejection.
 */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined, what: string): Promise<T> {
  if (!signal) return work;
  const stopped = () => {
    work.catch(() => undefined);
    return signal.reason instanceof TimeoutError
      ? signal.reason
      : new AbortError(what, { cause: signal.reason });
  };
  if (signal.aborted) return Promise.reject(stopped());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(stopped());
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** The server's certificate was not trusted; the message carries its thumbprints so an operator can pin it. */
export class TlsError extends VSphereError {
  readonly sha256: string | undefined;
  readonly sha1: string | undefined;
  constructor(
    code: 'TLS_UNTRUSTED' | 'TLS_THUMBPRINT_MISMATCH',
    message: string,
    fingerprints: { sha256?: string; sha1?: string } = {},
    options: { cause?: unknown } = {},
  ) {
    super(code, message, options);
    this.sha256 = fingerprints.sha256;
    this.sha1 = fingerprints.sha1;
  }
}

/** vCenter answered with an HTTP status that carries no SOAP envelope (e.g. 503 from a proxy, 404 on upload). */
export class HttpStatusError extends VSphereError {
  readonly status: number;
  constructor(status: number, what: string, bodyExcerpt = '') {
    super('HTTP_STATUS', `${what}: HTTP ${status}${bodyExcerpt ? `: ${bodyExcerpt}` : ''}`);
    this.status = status;
  }
}

/**
 * The request may have reached vCenter although no usable answer came back: the connection failed
 * or was cut, the call timed out, a gateway answered 502/503/504, or the answer could not be read
 * (garbled by a proxy). A call that changes something may have been carried out; look before
 * sending it again.
 */
export function answerMayBeLost(error: unknown): boolean {
  if (error instanceof HttpStatusError)
    return error.status === 502 || error.status === 503 || error.status === 504;
  return error instanceof TransportError || error instanceof TimeoutError || error instanceof DecodeError;
}
