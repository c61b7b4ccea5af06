/**
 * Soak: the chaos run of reliability-chaos.test.ts with 100 faults (or
 * RELIABILITY_SOAK_CHAOS_FAULTS): vCenter crashes and stalls, SIGTERM to serve, at random points
 * of provision / describe / destroy; the same scenario and checks, for longer. It runs in rounds
 * of 20 faults on one vcsim (each with its own seed, every check at the end of each), so that
 * the captured debug lines are checked and dropped as it goes.
 */
import { after, before, it } from 'node:test';
import { PASSWORD } from '../reliability/harness.ts';
import { runSeed } from '../reliability/rng.ts';
import { type ChaosSetup, chaosRun, startChaos } from '../reliability/scenarios.ts';
import { SecretWatch } from '../reliability/secrets.ts';

const FAULTS = Number(process.env.RELIABILITY_SOAK_CHAOS_FAULTS ?? 100);
const PER_ROUND = 20;
const SEED = runSeed(0x50a4c4a0);
const watch = new SecretWatch().captureDebug().secret(PASSWORD);
let setup: ChaosSetup;

before(async () => {
  setup = await startChaos(watch);
});
after(async () => {
  await setup?.close();
});

for (let round = 0; round * PER_ROUND < FAULTS; round++) {
  const faults = Math.min(PER_ROUND, FAULTS - round * PER_ROUND);
  it(`chaos soak, round ${round + 1}: ${faults} faults`, async (t) => {
    await chaosRun({ ...setup, faults, seed: SEED + round, log: (line) => t.diagnostic(line) });
    watch.clear();
  });
}
