/** The state the provider's operations share, and the helpers they have in common. */
import type { VSphereClient } from '../client.ts';
import { logger } from '../log.ts';
import type { ManagedObjectReference } from '../vim25/index.ts';
import type { BuildRequest } from '../vsphere/build.ts';
import type { Inventory } from '../vsphere/finder.ts';
import type { GroupFolders } from '../vsphere/folders.ts';
import type { VmOps } from '../vsphere/vm-ops.ts';
import type { DecodedAnnotation, InstanceMetadata } from './annotation.ts';
import type { PendingProvisions } from './pending.ts';
import type { ProviderDefaults } from './properties.ts';

const log = logger('infrakit:vsphere:provider');

/** Builds a VM; the template cloner and ISO builder implement it (inject your own to change how). */
export interface VmBuilderLike {
  build(request: BuildRequest): Promise<ManagedObjectReference>;
  /** Resolves once clean-ups left running by aborted builds are over (awaited by `close()`). */
  settle?(): Promise<void>;
  /** Names of the VMs such clean-ups are still waiting for. */
  readonly reapingNames?: string[];
}

/** The annotation codec (inject to change the stored format; both must stay readable by the original plugin). */
export interface AnnotationCodec {
  encode(meta: InstanceMetadata): string;
  decode(text: string | undefined): DecodedAnnotation;
}

/** A failure of work that went on after its call returned. */
export interface BackgroundFailure {
  operation: 'provision' | 'destroy';
  /** The instance ID. */
  id: string;
  group?: string;
  error: Error;
}

/**
 * What the operations share: the collaborators, the provider's settings, and the state kept
 * between calls (pending provisions, LogicalID claims, destroys in progress, folders searched).
 * One per provider; the facade owns it.
 */
export interface ProviderState {
  readonly client: VSphereClient;
  readonly inventory: Inventory;
  readonly folders: GroupFolders;
  readonly vmOps: VmOps;
  readonly cloner: VmBuilderLike;
  readonly isoBuilder: VmBuilderLike;
  readonly codec: AnnotationCodec;
  readonly defaults: ProviderDefaults;
  readonly datacenterName: string | undefined;
  readonly baseFolder: string | undefined;
  readonly ignoreOnDestroy: boolean;
  readonly configHashTag: string;
  readonly shutdownTimeoutMs: number;
  readonly pending: PendingProvisions;
  /**
   * Provisions in progress per (group, LogicalID), claimed before the first await so that two
   * provisions of one LogicalID never both create a VM.
   */
  readonly logicalClaims: Map<string, Promise<{ id: string; work?: Promise<ManagedObjectReference> }>>;
  /** Destroys in progress, by instance ID: a new VM of the same LogicalID waits for them. */
  readonly destroying: Map<string, Promise<void>>;
  /** Group folders already searched for clones left running by an earlier process. */
  readonly recoveredFolders: Set<string>;
  /** Base folders seen in provisions (Properties.Folder), searched by describe too. */
  readonly seenBaseFolders: Set<string | undefined>;
  readonly onBackgroundError: ((failure: BackgroundFailure) => void) | undefined;
}

export function signalOption(signal: AbortSignal | undefined): { signal?: AbortSignal } {
  return signal ? { signal } : {};
}

export function reportBackground(state: ProviderState, failure: BackgroundFailure): void {
  log(
    '%s of %s%s failed: %s',
    failure.operation,
    failure.id,
    failure.group ? ` (group ${failure.group})` : '',
    failure.error.message,
  );
  try {
    state.onBackgroundError?.(failure);
  } catch (hookError) {
    log('onBackgroundError threw: %s', (hookError as Error).message);
  }
}

/**
 * Provider operations end at once when their signal aborts: the calls that take the signal stop
 * with it; inventory lookups do not take it (they are cached and shared, and one caller's abort
 * must not fail the others), so they run on and end by their own deadline, unobserved.
 */
export { untilAborted } from '../transport/errors.ts';
