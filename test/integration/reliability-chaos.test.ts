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

const FAULTS = Number(process.env.RELIABILITY_CHAOS_FAULTS ?? 12);
const SEED = runSeed(0xc4a05);
const watch = new SecretWatch().captureDebug().secret(PASSWORD);
let rig: Rig;
let root: string;

before(async () => {
  rig = await startRig({ proxyTls: makeCertificate() });
  watch.cookiesFrom(rig.proxy);
  root = await mkdtemp(join(tmpdir(), 'ikv-chaos-'));
});
after(async () => {
  for (const child of servedChildren) child.kill('SIGKILL');
  await rig?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

it(`chaos: ${FAULTS} faults (vCenter crash, stall, SIGTERM to serve) at random points; every call settles, nothing lost or left behind`, async (t) => {
  await chaosRun({ rig, root, watch, faults: FAULTS, seed: SEED, log: (line) => t.diagnostic(line) });
});
