/** `--log-level`: which `debug` namespaces go to stderr. */
import { format } from 'node:util';
import createDebug from 'debug';
import type { TextOutput } from './io.ts';

/** `--log-level` values and the `debug` namespaces each turns on. */
export const LOG_LEVELS = {
  error: '',
  info: 'infrakit:vsphere:plugin,infrakit:vsphere:provider',
  debug: 'infrakit:vsphere:*,-infrakit:vsphere:soap:body',
  trace: 'infrakit:vsphere:*',
} as const;

export type LogLevel = keyof typeof LOG_LEVELS;

/** Sends `debug` output for `level` (plus `$DEBUG`) to `stderr`. */
export function configureLogging(level: LogLevel, env: NodeJS.ProcessEnv, stderr: TextOutput): void {
  const namespaces = [LOG_LEVELS[level], env.DEBUG ?? ''].filter((n) => n !== '').join(',');
  createDebug.enable(namespaces);
  createDebug.log = (...args: unknown[]) => {
    stderr.write(`${format(...args)}\n`);
  };
}
