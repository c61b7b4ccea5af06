/**
 * The process the CLI runs in: the streams it writes to (scrubbed of secrets) and the provider
 * factory tests and embedders replace.
 */
import { VSphereInstanceProvider, type VSphereInstanceProviderOptions } from '../provider/provider.ts';
import type { InstancePlugin } from '../spi/instance.ts';
import type { SizedStream, UploadOptions } from '../vsphere/upload.ts';

/** Where the CLI writes: `process.stdout`/`process.stderr` or anything with `write`. */
export interface TextOutput {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** What an operator command needs of a provider (VSphereInstanceProvider has it all). */
export interface CliProvider extends InstancePlugin {
  uploadIso(
    source: string | Buffer | SizedStream,
    options: UploadOptions,
  ): Promise<{ datastorePath: string; bytes: number }>;
  /** Logs in now (serve checks the credentials at start-up). */
  connect(signal?: AbortSignal): Promise<unknown>;
  /** Waits for work in flight at most `graceMs`, then logs out; says what was left unfinished. */
  close(options?: { graceMs?: number }): Promise<{ unfinished: string[] } | undefined>;
}

/** Makes the provider of one subtype. */
export type ProviderFactory = (options: VSphereInstanceProviderOptions, subtype: string) => CliProvider;

/** The process around {@link main}: streams, environment, and hooks for tests and embedding. */
export interface CliIo {
  stdout: TextOutput;
  stderr: TextOutput;
  stdin: AsyncIterable<string | Buffer>;
  env: NodeJS.ProcessEnv;
  /** Relative paths on the command line resolve against this. */
  cwd: string;
  /** `serve`: shuts down when aborted, like SIGTERM. */
  signal?: AbortSignal;
  /** `serve`: install SIGINT/SIGTERM handlers (default true). */
  handleSignals?: boolean;
  /** Replaces `new VSphereInstanceProvider(options)`. */
  createProvider?: ProviderFactory;
}

/** The default factory: a VSphereInstanceProvider, with `connect` logging its session in. */
export const defaultProviderFactory: ProviderFactory = (options) => {
  const provider = new VSphereInstanceProvider(options);
  return Object.assign(provider, {
    connect: (signal?: AbortSignal) => provider.client.connect(signal),
  });
};
