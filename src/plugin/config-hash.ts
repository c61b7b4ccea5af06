/**
 * The two spellings of InfraKit's config-hash tag. Group plugins before 2018-01 write and read
 * `infrakit.config_sha`, later ones `infrakit.config.hash`; the value is the same kind of hash.
 * The provider stores whatever tags it is given, so an instance created under one spelling must
 * still be recognised by a group plugin that reads the other, or every such instance would look
 * out of date and be rolled. Pure: no I/O.
 */

import type { InstanceDescription } from '../spi/instance.ts';
import { InfraKitTags } from '../spi/instance.ts';

/** Both spellings, current first. */
export const CONFIG_HASH_TAGS = [InfraKitTags.configHash, InfraKitTags.legacyConfigHash] as const;

type HashTag = (typeof CONFIG_HASH_TAGS)[number];

function otherSpelling(tag: HashTag): HashTag {
  return tag === InfraKitTags.configHash ? InfraKitTags.legacyConfigHash : InfraKitTags.configHash;
}

function isHashTag(key: string): key is HashTag {
  return key === InfraKitTags.configHash || key === InfraKitTags.legacyConfigHash;
}

/** The hash as a reader using `spelling` should see it: that spelling, else the other one. */
export function configHashOf(tags: Record<string, string>, spelling: HashTag): string | undefined {
  if (Object.hasOwn(tags, spelling)) return tags[spelling];
  const other = otherSpelling(spelling);
  return Object.hasOwn(tags, other) ? tags[other] : undefined;
}

/** A describe query with its hash conditions taken out, to be checked on either spelling. */
export interface SplitQuery {
  /** The query to hand to the provider (no hash tags). */
  readonly tags: Record<string, string>;
  /** Hash conditions of the original query, by spelling. */
  readonly hash: readonly { readonly spelling: HashTag; readonly value: string }[];
}

/**
 * Takes the config-hash tags out of a describe query: the provider matches tags literally, so a
 * query for `infrakit.config.hash=X` would miss an instance stored with `infrakit.config_sha=X`.
 */
export function splitHashQuery(query: Record<string, string>): SplitQuery {
  const entries: [string, string][] = [];
  const hash: { spelling: HashTag; value: string }[] = [];
  for (const [key, value] of Object.entries(query)) {
    if (isHashTag(key)) hash.push({ spelling: key, value });
    else entries.push([key, value]);
  }
  return { tags: Object.fromEntries(entries), hash };
}

/**
 * Makes descriptions readable by both generations of group plugin:
 * - keeps only those matching the query's hash conditions (on either spelling);
 * - gives every description that carries the hash under one spelling the other spelling too, so
 *   the spelling the query used (and the one the asking group plugin reads, which the query usually
 *   does not name) is always present.
 *
 * Returns new description objects; the inputs are not modified.
 */
export function echoConfigHash(
  descriptions: readonly InstanceDescription[],
  query: SplitQuery,
): InstanceDescription[] {
  const out: InstanceDescription[] = [];
  for (const description of descriptions) {
    const tags = description.Tags ?? {};
    if (!query.hash.every((condition) => configHashOf(tags, condition.spelling) === condition.value))
      continue;
    const echoed: Record<string, string> = Object.fromEntries(Object.entries(tags));
    for (const spelling of CONFIG_HASH_TAGS) {
      const value = configHashOf(tags, spelling);
      if (value !== undefined) echoed[spelling] = value;
    }
    out.push({ ...description, Tags: echoed });
  }
  return out;
}

/**
 * Labels that set the hash under one spelling set it under the other too, so an instance never
 * carries two different hashes (one of which would be stale for the other generation).
 */
export function mirrorHashLabels(labels: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = Object.fromEntries(Object.entries(labels));
  for (const spelling of CONFIG_HASH_TAGS) {
    const value = configHashOf(labels, spelling);
    if (value !== undefined) out[spelling] = value;
  }
  return out;
}
