/**
 * One deadline for one public call, fixed when the call starts and handed down through every layer
 * it goes through (login, version negotiation, retries and their backoff, the pool wait, connect,
 * TLS, the answer). A timeout per attempt would let a stalled vCenter stretch a call to
 * (retries + 1) × timeout plus the login's own timeouts.
 */
import { TimeoutError } from './errors.ts';

export class Deadline {
  /** What the TimeoutError names: the method the caller called. */
  readonly what: string;
  /** The whole budget, as the caller gave it. */
  readonly totalMs: number;
  /** performance.now() at which it passes. */
  readonly at: number;

  constructor(what: string, totalMs: number) {
    this.what = what;
    this.totalMs = totalMs;
    this.at = performance.now() + totalMs;
  }

  /** Milliseconds left (0 once it passed). */
  remaining(): number {
    return Math.max(0, this.at - performance.now());
  }

  get expired(): boolean {
    return this.remaining() <= 0;
  }

  /** The error of a call that ran out of time: the method it was for and the whole budget. */
  error(): TimeoutError {
    return new TimeoutError(this.what, this.totalMs);
  }

  /**
   * A signal that aborts with {@link error} when the deadline passes, or with `signal`'s reason,
   * for code that only takes an AbortSignal. `dispose` clears its timer.
   */
  link(signal?: AbortSignal): { signal: AbortSignal; dispose(): void } {
    const controller = new AbortController();
    const onAbort = () => controller.abort(signal?.reason);
    const timer = setTimeout(() => controller.abort(this.error()), this.remaining());
    timer.unref();
    if (signal?.aborted) controller.abort(signal.reason);
    else signal?.addEventListener('abort', onAbort, { once: true });
    return {
      signal: controller.signal,
      dispose: () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      },
    };
  }

  /**
   * Waits for `work` (shared with other callers, so not cancelled here) no longer than this
   * deadline and `signal` allow.
   */
  race<T>(work: Promise<T>, signal: AbortSignal | undefined, onAbort: () => Error): Promise<T> {
    if (signal?.aborted) return Promise.reject(onAbort());
    if (this.expired) return Promise.reject(this.error());
    return new Promise<T>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', aborted);
      };
      const aborted = () => {
        done();
        reject(onAbort());
      };
      const timer = setTimeout(() => {
        done();
        reject(this.error());
      }, this.remaining());
      signal?.addEventListener('abort', aborted, { once: true });
      work.then(
        (value) => {
          done();
          resolve(value);
        },
        (error: unknown) => {
          done();
          reject(error);
        },
      );
    });
  }
}
