/**
 * Starts a PluginServer on a unix socket in a fresh temporary directory, with two fake plugins
 * (the default type and `compute`) holding the instances the golden files describe.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { format } from 'node:util';
import {
  type PluginBackgroundFailure,
  PluginServer,
  type PluginServerOptions,
} from '../../src/plugin/server.ts';
import type { InstanceDescription } from '../../src/spi/instance.ts';
import { FakePlugin, type FakePluginOptions } from './fake-plugin.ts';

/** Config hashes used by the golden files. */
export const HASH = {
  legacy: '6gn6cyvkwb5glzqfsvdjnmixm4vnuyg5',
  current: 'ijycgcaiqoryy5ohzpffxfhkkexmdsgv',
  managers: 'qkq3ffbxgmd6bbjdyyhtmtu3l4uqlsfo',
} as const;

/** The default plugin's instances at start: one per hash spelling, and one of another group. */
export function goldenInstances(): InstanceDescription[] {
  return [
    {
      ID: 'vm-1',
      LogicalID: null,
      Tags: { 'infrakit.group': 'workers', 'infrakit.config_sha': HASH.legacy, guestIP: '10.0.0.11' },
    },
    {
      ID: 'vm-2',
      LogicalID: null,
      Tags: { 'infrakit.group': 'workers', 'infrakit.config.hash': HASH.current, guestIP: '10.0.0.12' },
    },
    {
      ID: 'vm-3',
      LogicalID: null,
      Tags: { 'infrakit.group': 'managers', 'infrakit.config.hash': HASH.managers },
    },
  ];
}

export interface Harness {
  server: PluginServer;
  socketPath: string;
  dir: string;
  /** The default type's plugin. */
  main: FakePlugin;
  /** The `compute` subtype's plugin. */
  compute: FakePlugin;
  /** Every log line, formatted. */
  logs: string[];
  backgroundFailures: PluginBackgroundFailure[];
  close(): Promise<void>;
}

export async function startHarness(
  options: Partial<PluginServerOptions> & { main?: FakePluginOptions } = {},
): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'ikv-'));
  const socketPath = join(dir, 'instance-vsphere');
  const main = new FakePlugin({ instances: goldenInstances(), ...options.main });
  const compute = new FakePlugin({ idPrefix: 'compute' });
  const logs: string[] = [];
  const backgroundFailures: PluginBackgroundFailure[] = [];
  const server = new PluginServer({
    plugins: { '': main, compute },
    logger: (formatter, ...args) => logs.push(format(formatter, ...args)),
    onBackgroundError: (failure) => backgroundFailures.push(failure),
    ...options,
  });
  await server.listen({ socketPath });
  return {
    server,
    socketPath,
    dir,
    main,
    compute,
    logs,
    backgroundFailures,
    async close() {
      await server.close({ graceMs: 1000 });
      await rm(dir, { recursive: true, force: true });
    },
  };
}
