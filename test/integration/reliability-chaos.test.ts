/**
 * Chaos: faults nobody scripted, at random points of provision / describe / destroy, made by the
 * library and by a real `serve` process driven over its socket. vCenter crashes and comes back,
 * stalls and answers again, and serve gets SIGTERM while calls are in flight (then a new one
 * starts). Whatever the order: every call settles within its bound, the request rate stays
 * bounded while vCenter is away, no VM is lost or left without its group's notes, no session is
 * left on vCenter, and the password goes nowhere but the Login to the pinned vCenter.
 *
 * Seeded (RELIABILITY_SEED replays a run; the seed is printed); RELIABILITY_CHAOS_FAULTS raises
 * the number of faults for a longer local run. `npm run soak` runs the same scenario longer
 * (test/soak/chaos.soak.ts).
 */
import { after, before, it } from 'node:test';
import { PASSWORD } from '../reliability/harness.ts';
import { runSeed } from '../reliability/rng.ts';
import { type ChaosSetup, chaosRun, startChaos } from '../reliability/scenarios.ts';
import { SecretWatch } from '../reliability/secrets.ts';

const FAULTS = Number(process.env.RELIABILITY_CHAOS_FAULTS ?? 12);
const SEED = runSeed(0xc4a05);
const watch = new SecretWatch().captureDebug().secret(PASSWORD);
let setup: ChaosSetup;

before(async () => {
  setup = await startChaos(watch);
});
after(async () => {
  await setup?.close();
});

it(`chaos: ${FAULTS} faults (vCenter crash, stall, SIGTERM to serve) at random points; every call settles, nothing lost or left behind`, async (t) => {
  await chaosRun({ ...setup, faults: FAULTS, seed: SEED, log: (line) => t.diagnostic(line) });
});
