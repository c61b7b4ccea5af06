/**
 * `npm run demo`: the library managing a group of VMs the way InfraKit's group plugin would, on a
 * local vcsim (govmomi's vCenter simulator) — no vCenter needed. It uses only the package's
 * public API, imported by its name as any user would (`npm run demo` builds dist/ first when
 * it is missing or older than src/).
 *
 * It starts vcsim (building the launcher first if Go is there and it is missing), provisions a
 * group of 3 VMs from a template, lets simulated VMware Tools hand out guest IPs, prints the group
 * (name, power, IP, tags), labels one, scales the group to 5 and down to 2, destroys the rest and
 * stops vcsim. Exit code 0 on success; 1 with the reason on stderr otherwise.
 *
 * Environment: VCSIM=/path/to/vcsim to use another vcsim; INFRAKIT_VSPHERE_CACHE for the cache
 * (default: the project's .cache/, where `npm run vcsim:install` puts the launcher).
 */
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import {
  type InstanceDescription,
  type JsonValue,
  VSphereInstanceProvider,
  type VSphereInstanceSpec,
} from 'infrakit-instance-vsphere';
import {
  type RunningVcsim,
  startVcsim,
  VcsimInstallError,
  VcsimNotFoundError,
} from 'infrakit-instance-vsphere/testing';

const cacheDir = process.env.INFRAKIT_VSPHERE_CACHE || fileURLToPath(new URL('../.cache', import.meta.url));

const GROUP = 'demo-workers';
const TEMPLATE = 'DC0_H0_VM0';
const PROPERTIES: { [key: string]: JsonValue } = {
  Datastore: 'LocalDS_0',
  Hostname: 'DC0_H0',
  Network: 'VM Network',
  Template: TEMPLATE,
  VMPrefix: 'worker',
  CPUs: 1,
  Memory: 512,
  PowerOn: true,
};

const started = Date.now();
const out = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};
const step = (text: string): void => out(`\n==> ${text}`);
const seconds = (since: number): string => `${((Date.now() - since) / 1000).toFixed(1)} s`;

/** The config hash InfraKit's group plugin computes: lowercase base32 of a SHA-1, no padding. */
function configHash(value: JsonValue): string {
  const digest = createHash('sha1').update(JSON.stringify(value)).digest();
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  let bits = 0;
  let buffer = 0;
  let text = '';
  for (const byte of digest) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      text += alphabet[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) text += alphabet[(buffer << (5 - bits)) & 31];
  return text;
}

const SPEC: VSphereInstanceSpec = {
  Properties: PROPERTIES,
  Tags: { 'infrakit.group': GROUP, 'infrakit.config.hash': configHash(PROPERTIES), tier: 'web' },
  Init: '#!/bin/sh\necho hello from $(hostname)\n',
};

async function describeGroup(provider: VSphereInstanceProvider): Promise<InstanceDescription[]> {
  return provider.describe({ 'infrakit.group': GROUP }, { properties: true });
}

/** The group as a table: NAME, POWER, IP and the tags (`k=v`, sorted), in columns. */
function table(descriptions: readonly InstanceDescription[]): string {
  const rows = [...descriptions]
    .sort((a, b) => a.ID.localeCompare(b.ID))
    .map(({ ID, Tags, Properties }) => {
      const power = (Properties as { PowerState?: string } | undefined)?.PowerState ?? '-';
      const tags = Object.keys(Tags)
        .filter((key) => key !== 'guestIP')
        .sort()
        .map((key) => `${key}=${Tags[key]}`);
      return [ID, power.replace(/^powered/, '').toLowerCase(), Tags.guestIP || '-', tags.join(' ')];
    });
  const header = ['NAME', 'POWER', 'IP', 'TAGS'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  return [header, ...rows]
    .map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '))
    .map((line) => line.trimEnd())
    .join('\n');
}

async function show(provider: VSphereInstanceProvider): Promise<InstanceDescription[]> {
  const found = await describeGroup(provider);
  out(found.length === 0 ? `(group ${GROUP} is empty)` : table(found));
  return found;
}

async function provisionSome(provider: VSphereInstanceProvider, count: number): Promise<string[]> {
  return Promise.all(
    Array.from({ length: count }, async () => {
      const t0 = Date.now();
      const id = await provider.provision(SPEC, { wait: true });
      out(`    ${id} created and powered on (${seconds(t0)})`);
      return id;
    }),
  );
}

/** Waits until every instance of the group reports a guest IP (simulated VMware Tools). */
async function waitForIps(provider: VSphereInstanceProvider, count: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const found = await describeGroup(provider);
    if (found.length === count && found.every((d) => (d.Tags.guestIP ?? '') !== '')) return;
    if (Date.now() > deadline) {
      throw new Error(
        `only ${found.filter((d) => d.Tags.guestIP).length} of ${count} VMs reported an IP in 30 s`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function expectSize(provider: VSphereInstanceProvider, size: number): Promise<InstanceDescription[]> {
  const found = await describeGroup(provider);
  if (found.length !== size)
    throw new Error(`group ${GROUP} has ${found.length} instances, expected ${size}`);
  return found;
}

async function run(): Promise<void> {
  out('infrakit-instance-vsphere demo: an InfraKit group of VMs on a simulated vCenter (no vCenter needed)');

  step('Starting vcsim (govmomi vCenter simulator)');
  let t0 = Date.now();
  let sim: RunningVcsim;
  try {
    sim = await startVcsim({ cacheDir, install: true });
  } catch (error) {
    if (error instanceof VcsimNotFoundError || error instanceof VcsimInstallError) {
      throw new Error(
        `${error.message}\nThe demo needs vcsim: run \`npm run vcsim:install\` (needs Go) or set VCSIM=/path/to/vcsim.`,
      );
    }
    throw error;
  }
  let provider: VSphereInstanceProvider | undefined;
  try {
    out(
      `    ${sim.sdkUrl}, certificate pinned by thumbprint ${sim.thumbprint?.slice(0, 23)}... (${seconds(t0)})`,
    );

    provider = new VSphereInstanceProvider({ ...sim.connection, datacenter: 'DC0', shutdownTimeoutMs: 0 });

    step(`Validating the group's instance properties`);
    out(`    ${JSON.stringify(PROPERTIES)}`);
    await provider.validate(PROPERTIES);
    out('    OK: datastore, host, network and template exist');

    step(`Provisioning group ${GROUP}: 3 VMs cloned from template ${TEMPLATE}`);
    await provisionSome(provider, 3);
    await expectSize(provider, 3);

    step('Waiting for VMware Tools (simulated) to report guest IPs');
    t0 = Date.now();
    sim.startTools({ delayMs: 300, intervalMs: 100 });
    await waitForIps(provider, 3);
    out(`    all 3 have an IP (${seconds(t0)})`);
    const three = await show(provider);

    const leader = [...three].sort((a, b) => a.ID.localeCompare(b.ID))[0]!.ID;
    step(`Labelling ${leader} role=leader`);
    await provider.label(leader, { role: 'leader' });
    const leaders = await provider.describe({ 'infrakit.group': GROUP, role: 'leader' });
    if (leaders.length !== 1 || leaders[0]!.ID !== leader) throw new Error('the label did not stick');
    await show(provider);

    step('Scaling the group up to 5');
    await provisionSome(provider, 2);
    await waitForIps(provider, 5);
    await show(provider);

    step('Scaling the group down to 2 (keeping the leader)');
    const five = await expectSize(provider, 5);
    const doomed = five
      .map((d) => d.ID)
      .filter((id) => id !== leader)
      .sort()
      .slice(0, 3);
    await Promise.all(
      doomed.map(async (id) => {
        await provider!.destroy(id, { Reason: 'terminate' });
        out(`    ${id} destroyed`);
      }),
    );
    const two = await expectSize(provider, 2);
    if (!two.some((d) => d.ID === leader)) throw new Error('the leader was destroyed');
    await show(provider);

    step(`Destroying group ${GROUP}`);
    for (const { ID } of two) {
      await provider.destroy(ID, { Reason: 'terminate' });
      out(`    ${ID} destroyed`);
    }
    await expectSize(provider, 0);
    const left = (await sim.listVms()).filter((vm) => vm.name.startsWith('worker-'));
    if (left.length > 0) throw new Error(`VMs left in vcsim: ${left.map((vm) => vm.name).join(', ')}`);
    out('    the group is empty');
  } finally {
    await provider?.close().catch(() => undefined);
    step('Stopping vcsim');
    await sim.stop();
  }
  out(`\nDemo finished in ${seconds(started)}.`);
}

run().then(
  () => {
    process.exitCode = 0;
  },
  (error: unknown) => {
    process.stderr.write(`\ndemo failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
