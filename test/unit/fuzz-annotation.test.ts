/**
 * The annotation codec under fast-check (issue 6, item 7): random tag maps round-trip exactly, and
 * no input makes the decoder throw. About 10 000 runs each here; `npm run soak` runs 100 000
 * (test/soak/fuzz.soak.ts). A failure prints its seed: rerun with FUZZ_SEED=<seed>.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { annotationDecoderTotal, annotationRoundTrip, fuzzSeed } from '../reliability/fuzz.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 10_000);

describe('annotation codec, property-based', () => {
  it(`${RUNS} random metadata values (tag maps of any XML-carriable text) round-trip exactly`, (t) => {
    const { tooLong } = annotationRoundTrip({ numRuns: RUNS, seed: fuzzSeed(0xa11) });
    t.diagnostic(`${tooLong} refused as too long (AnnotationError)`);
    assert.ok(tooLong > 0, 'some were too long, and refused with a typed error');
    assert.ok(tooLong < RUNS / 10, 'most generated values fit');
  });

  it(`${RUNS} arbitrary inputs (strings, hand-mutated annotations, non-strings) never make the decoder throw`, (t) => {
    const { kinds } = annotationDecoderTotal({ numRuns: RUNS, seed: fuzzSeed(0xdec) });
    t.diagnostic(`decoded as ${JSON.stringify(kinds)}`);
    assert.ok((kinds.foreign ?? 0) > 0, 'garbage is recognised as foreign');
    assert.ok((kinds.ours ?? 0) + (kinds.legacy ?? 0) > 0, 'mutated annotations are still read');
  });
});
