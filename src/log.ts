/**
 * Named loggers of the `debug` package (`DEBUG=infrakit:*`), loaded on first use rather than at
 * import: importing `debug` is ~7 ms of a cold start (P6 in docs/performance.md), and a logger
 * that is never called should not cost it. Messages and `enabled` behave as `debug`'s own, and a
 * program that configures `debug` itself (`debug.enable(...)`, `debug.log = ...`) configures these.
 */
import type { Debugger } from 'debug';

/** A `debug` logger for one namespace. */
export interface Logger {
  (formatter: string, ...args: unknown[]): void;
  /** Whether the namespace is enabled: check it before building an expensive message. */
  readonly enabled: boolean;
}

type CreateDebug = (namespace: string) => Debugger;

let createDebug: CreateDebug | undefined;

function loadDebug(): CreateDebug {
  if (createDebug) return createDebug;
  // `debug` is CommonJS, so a synchronous require made for this file's location works. This is
  // always an ES module (require() users get the ES build too), so import.meta.url is its location;
  // a `__filename` in scope could be a CommonJS caller's global, not this file.
  createDebug = process.getBuiltinModule('node:module').createRequire(import.meta.url)(
    'debug',
  ) as CreateDebug;
  return createDebug;
}

/** A logger for `namespace`; `debug` itself is loaded when it is first called or asked `enabled`. */
export function logger(namespace: string): Logger {
  let instance: Debugger | undefined;
  const get = (): Debugger => {
    instance ??= loadDebug()(namespace);
    return instance;
  };
  const log = (formatter: string, ...args: unknown[]): void => {
    const debug = get();
    if (debug.enabled) debug(formatter, ...args);
  };
  Object.defineProperty(log, 'enabled', { get: () => get().enabled, enumerable: true });
  return log as Logger;
}
