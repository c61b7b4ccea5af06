/** label: merges labels into an instance's stored tags. */
import { ValidationError } from '../errors.ts';
import { InfraKitTags } from '../spi/instance.ts';
import { NotFoundError } from '../vsphere/errors.ts';
import { findInstance } from './lookup.ts';
import { parseTags } from './spec.ts';
import type { ProviderState } from './state.ts';

/** Merges `labels` into the instance's stored tags. Changing the config hash tag changes line 2 of the notes too. */
export async function labelInstance(
  state: ProviderState,
  id: string,
  labels: Record<string, string>,
): Promise<void> {
  const parsed = parseTags(labels, 'labels');
  const found = await findInstance(state, id);
  if (!found) throw new NotFoundError('vm', id, 'any group folder or datacenter', { field: 'Instance' });
  const { metadata } = found;
  const tags = { ...metadata.tags, ...parsed };
  const newGroup = parsed[InfraKitTags.group];
  if (newGroup !== undefined && newGroup !== metadata.group) {
    throw new ValidationError(
      [
        {
          field: `labels.${InfraKitTags.group}`,
          message: 'an instance cannot change group by label (it would stay in the old group folder)',
        },
      ],
      'invalid labels',
    );
  }
  const newHash =
    parsed[state.configHashTag] ?? parsed[InfraKitTags.configHash] ?? parsed[InfraKitTags.legacyConfigHash];
  const configHash = newHash ?? metadata.configHash;
  for (const hashTag of [InfraKitTags.configHash, InfraKitTags.legacyConfigHash]) {
    if (hashTag in tags) tags[hashTag] = configHash;
  }
  const annotation = state.codec.encode({ ...metadata, configHash, tags });
  await state.vmOps.setAnnotation(found.vm, annotation);
}
