/**
 * Garbage made by one describe, per VM (a tool for memory work, not a measure of the report):
 * `node --expose-gc --min-semi-space-size=1024 --max-semi-space-size=1024 test/bench/alloc-probe.ts <N>`.
 * With a young generation too large to be collected during one describe, the heap's growth over
 * a describe is what it allocated. Fills a vcsim group of N VMs, then for a provider with the
 * mirror on, with and without the membership check: the cold describe, then three mirrored ones.
 */
import { VSphereInstanceProvider } from '../../src/index.ts';
import { Vcsim } from '../vcsim/vcsim.ts';
import { prepareGroup } from './lib/groups.ts';
import { RawSoap } from './lib/raw-soap.ts';

const n = Number(process.argv[2] ?? 10_000);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc (and a large --min-semi-space-size)');
const sim = await Vcsim.start({});
try {
  const soap = new RawSoap(sim.sdkUrl);
  await soap.login();
  await prepareGroup(soap, { group: 'alloc', count: n, concurrency: 16 });
  await soap.logout();
  soap.close();
  const perVm = (before: number) => `${((process.memoryUsage().heapUsed - before) / n).toFixed(0)} B a VM`;
  for (const checkMembership of [true, false]) {
    const provider = new VSphereInstanceProvider({
      url: sim.sdkUrl,
      username: 'user',
      password: 'pass',
      tls: { thumbprint: sim.certificate!.sha256 },
      datacenter: 'DC0',
      datastore: 'LocalDS_0',
      describeMirror: { checkMembership },
    });
    await provider.client.connect();
    const tags = { 'infrakit.group': 'alloc' };
    gc();
    let before = process.memoryUsage().heapUsed;
    await provider.describe(tags);
    process.stdout.write(`membership check ${checkMembership}: cold describe ${perVm(before)}\n`);
    while (provider.mirrors!.list().some((m) => m.state === 'building'))
      await new Promise((resolve) => setTimeout(resolve, 50));
    await provider.describe(tags);
    for (let i = 0; i < 3; i++) {
      gc();
      before = process.memoryUsage().heapUsed;
      const found = await provider.describe(tags);
      process.stdout.write(
        `membership check ${checkMembership}: mirrored describe of ${found.length} ${perVm(before)}\n`,
      );
    }
    await provider.close();
  }
} finally {
  await sim.stop();
}
