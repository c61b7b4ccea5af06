/**
 * Soak: the session-expiry scenario of reliability-session.test.ts for 10 minutes (or
 * RELIABILITY_SOAK_MS), with three vcsim restarts: 0 failed operations, every session closed.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { liveSessions, PASSWORD, PROVIDER_USER, type Rig, startRig } from '../reliability/harness.ts';
import { runSeed } from '../reliability/rng.ts';
import { percentiles, runLifecycleCycles } from '../reliability/scenarios.ts';
import { SecretWatch } from '../reliability/secrets.ts';

const DURATION_MS = Number(process.env.RELIABILITY_SOAK_MS ?? 600_000);
const watch = new SecretWatch().captureDebug().secret(PASSWORD);
let rig: Rig;

before(async () => {
  rig = await startRig({ vcsim: { sessionTimeout: '2s' } });
  watch.cookiesFrom(rig.proxy);
});
after(async () => {
  await rig?.close();
});

it(`${DURATION_MS / 60_000} min of lifecycle cycles, 2 s session timeout, 3 restarts`, async (t) => {
  const provider = rig.provider();
  const report = await runLifecycleCycles({
    rig,
    provider,
    durationMs: DURATION_MS,
    workers: 4,
    maxPauseMs: 4500,
    restartAt: [0.25, 0.5, 0.75],
    seed: runSeed(0x50a4),
    progress: (line) => t.diagnostic(line),
  });
  const stats = { ...provider.client.session.stats };
  await provider.close();
  const closed = provider.client.session.stats;
  t.diagnostic(
    `SOAK session: ${report.cycles} cycles, ${report.operations} operations, ${report.failures.length} failed; ` +
      `${stats.logins} logins, ${stats.relogins} re-logins, ${closed.logouts} logouts, ${report.restarts} restarts; ` +
      `provision ${JSON.stringify(percentiles(report.timings.provision))} ms; ` +
      `describe ${JSON.stringify(percentiles(report.timings.describe))} ms; ` +
      `label ${JSON.stringify(percentiles(report.timings.label))} ms; ` +
      `destroy ${JSON.stringify(percentiles(report.timings.destroy))} ms; ` +
      `${watch.debugLines} debug lines checked`,
  );
  assert.deepEqual(report.failures, []);
  assert.equal(report.restarts, 3);
  assert.equal(closed.logouts, closed.logins - closed.relogins);
  assert.equal(await liveSessions(rig.admin, PROVIDER_USER), 0);
  watch.object('provider', provider);
  assert.deepEqual(watch.leaks(), []);
});
