/**
 * Soak: the chaos run of reliability-chaos.test.ts with 100 faults (or
 * RELIABILITY_SOAK_CHAOS_FAULTS): vCenter crashes and stalls, SIGTERM to serve, at random points
 * of provision / describe / destroy; the same scenario and checks, for longer. It runs in rounds
 * of 20 faults on one vcsim (each with its own seed, every check at the end of each), so that
 * the captured debug lines are checked and dropped as it goes.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { makeCertificate } from '../reliability/certs.ts';
import { PASSWORD, type Rig, startRig } from '../reliability/harness.ts';
import { runSeed } from '../reliability/rng.ts';
import { chaosRun } from '../reliability/scenarios.ts';
import { SecretWatch } from '../reliability/secrets.ts';
import { servedChildren } from '../reliability/serve-process.ts';

const FAULTS = Number(process.env.RELIABILITY_SOAK_CHAOS_FAULTS ?? 100);
const PER_ROUND = 20;
const SEED = runSeed(0x50a4c4a0);
const watch = new SecretWatch().captureDebug().secret(PASSWORD);
let rig: Rig;
let root: string;

before(async () => {
  rig = await startRig({ proxyTls: makeCertificate() });
  watch.cookiesFrom(rig.proxy);
  root = await mkdtemp(join(tmpdir(), 'ikv-chaos-soak-'));
});
after(async () => {
  for (const child of servedChildren) child.kill('SIGKILL');
  await rig?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

for (let round = 0; round * PER_ROUND < FAULTS; round++) {
  const faults = Math.min(PER_ROUND, FAULTS - round * PER_ROUND);
  it(`chaos soak, round ${round + 1}: ${faults} faults`, async (t) => {
    await chaosRun({ rig, root, watch, faults, seed: SEED + round, log: (line) => t.diagnostic(line) });
    watch.clear();
  });
}
