/**
 * Soak: the fast-check properties of test/unit/fuzz-*.test.ts with 100 000 runs each (20 000 for
 * whole vim25 objects), on seeds of their own.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import {
  annotationDecoderTotal,
  annotationRoundTrip,
  vim25DecoderTotal,
  vim25PrimitivesRoundTrip,
  vim25RoundTrip,
} from '../reliability/fuzz.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 100_000);

it(`annotation: ${RUNS} random tag maps round-trip`, (t) => {
  const started = performance.now();
  const { tooLong } = annotationRoundTrip({ numRuns: RUNS, seed: 0x50a1 });
  t.diagnostic(
    `SOAK fuzz annotation round trip: ${RUNS} runs, ${tooLong} too long, ${Math.round(performance.now() - started)} ms`,
  );
  assert.ok(tooLong < RUNS / 10);
});

it(`annotation: ${RUNS} arbitrary inputs never make the decoder throw`, (t) => {
  const started = performance.now();
  const { kinds } = annotationDecoderTotal({ numRuns: RUNS, seed: 0x50a2 });
  t.diagnostic(
    `SOAK fuzz annotation decoder: ${JSON.stringify(kinds)}, ${Math.round(performance.now() - started)} ms`,
  );
  assert.ok((kinds.foreign ?? 0) > 0);
});

it(`vim25: ${RUNS / 5} random objects round-trip through vcsim-shaped XML`, (t) => {
  const started = performance.now();
  const { types, bytes } = vim25RoundTrip({ numRuns: RUNS / 5, seed: 0x50a3 });
  t.diagnostic(
    `SOAK fuzz vim25 objects: ${RUNS / 5} runs, ${types} types, ${Math.round(bytes / 1e6)} MB decoded, ${Math.round(performance.now() - started)} ms`,
  );
  assert.ok(types > 500);
});

it(`vim25: ${RUNS} primitives in anyType and ${RUNS} arbitrary responses`, (t) => {
  const started = performance.now();
  vim25PrimitivesRoundTrip({ numRuns: RUNS, seed: 0x50a4 });
  const { decoded, refused } = vim25DecoderTotal({ numRuns: RUNS, seed: 0x50a5 });
  t.diagnostic(
    `SOAK fuzz vim25 decoder: ${decoded} decoded, ${refused} refused, ${Math.round(performance.now() - started)} ms`,
  );
  assert.ok(refused > 0);
});
