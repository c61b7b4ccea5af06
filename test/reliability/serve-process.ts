/**
 * `serve` as a child process on a plugins dir of its own, as InfraKit starts it: for the tests
 * that drive it over its socket, signal it, and watch how it ends.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

export interface Served {
  child: ChildProcessWithoutNullStreams;
  dir: string;
  socketPath: string;
  pidPath: string;
  /** Everything it wrote to stdout and stderr so far. */
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Every child started here, for an `after` hook to kill what a failed test left running. */
export const servedChildren = new Set<ChildProcessWithoutNullStreams>();

/** Starts `node cli.ts <args>` with INFRAKIT_PLUGINS_DIR=`dir`; resolves once it serves (or exits). */
export async function startServe(
  dir: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
  name = 'instance-vsphere',
): Promise<Served> {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, DEBUG: '', INFRAKIT_PLUGINS_DIR: dir, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  servedChildren.add(child);
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = once(child, 'exit').then(([code, signal]) => {
    servedChildren.delete(child);
    return { code: code as number | null, signal: signal as NodeJS.Signals | null };
  });
  const deadline = Date.now() + 20_000;
  let done = false;
  void exited.then(() => {
    done = true;
  });
  while (!done && !/serving on /.test(output)) {
    if (Date.now() > deadline) throw new Error(`serve did not start: ${output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const socketPath = join(dir, name);
  return { child, dir, socketPath, pidPath: `${socketPath}.pid`, output: () => output, exited };
}
