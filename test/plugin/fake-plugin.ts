/**
 * A fake InstancePlugin for the plugin-server tests: instances in memory, every call recorded,
 * each operation replaceable per test. The real vCenter-backed provider is tested elsewhere.
 */

import { ValidationError, VSphereError } from '../../src/errors.ts';
import type {
  DestroyContext,
  DestroyOptions,
  InstanceDescription,
  InstancePlugin,
  InstanceSpec,
  JsonValue,
  ProvisionOptions,
} from '../../src/spi/instance.ts';

/** One recorded call. */
export interface FakeCall {
  method: 'validate' | 'provision' | 'label' | 'destroy' | 'describe';
  args: unknown[];
}

/** Options of {@link FakePlugin}. */
export interface FakePluginOptions {
  /** Prefix of provisioned IDs: `<prefix>-<n>`, n from 123. */
  idPrefix?: string;
  /** Instances present from the start. */
  instances?: InstanceDescription[];
  /** How long the "vCenter work" of a provision takes (awaited when `wait` is not false). */
  provisionWorkMs?: number;
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class FakePlugin implements InstancePlugin {
  readonly calls: FakeCall[] = [];
  readonly instances = new Map<string, InstanceDescription>();
  /** Provisions whose slow work is still running. */
  readonly pending = new Set<string>();
  readonly #idPrefix: string;
  readonly #provisionWorkMs: number;
  #next = 123;

  /** Per-test replacements. */
  onValidate?: (properties: JsonValue | undefined) => Promise<void>;
  onDestroy?: (id: string, context: DestroyContext) => Promise<void>;
  onDescribe?: (tags: Record<string, string>) => Promise<InstanceDescription[]>;

  constructor(options: FakePluginOptions = {}) {
    this.#idPrefix = options.idPrefix ?? 'vm';
    this.#provisionWorkMs = options.provisionWorkMs ?? 0;
    for (const instance of options.instances ?? []) this.instances.set(instance.ID, instance);
  }

  async validate(properties: JsonValue | undefined): Promise<void> {
    this.calls.push({ method: 'validate', args: [properties] });
    if (this.onValidate) return this.onValidate(properties);
    if (typeof properties !== 'object' || properties === null || Array.isArray(properties)) {
      throw new ValidationError(
        [{ field: 'Properties', message: 'expected an object' }],
        'invalid properties',
      );
    }
    const issues = [];
    if (typeof properties.Datastore !== 'string')
      issues.push({ field: 'Properties.Datastore', message: 'required' });
    if (properties.CPUs !== undefined && typeof properties.CPUs !== 'number') {
      issues.push({ field: 'Properties.CPUs', message: 'expected a number' });
    }
    if (issues.length > 0) throw new ValidationError(issues, 'invalid properties');
  }

  async provision(spec: InstanceSpec, options: ProvisionOptions = {}): Promise<string> {
    this.calls.push({ method: 'provision', args: [spec, options] });
    const id = `${this.#idPrefix}-${this.#next++}`;
    this.instances.set(id, { ID: id, LogicalID: spec.LogicalID ?? null, Tags: { ...(spec.Tags ?? {}) } });
    this.pending.add(id);
    const work = sleep(this.#provisionWorkMs).then(() => {
      this.pending.delete(id);
    });
    if (options.wait !== false) await work;
    return id;
  }

  async label(id: string, labels: Record<string, string>): Promise<void> {
    this.calls.push({ method: 'label', args: [id, labels] });
    const instance = this.instances.get(id);
    if (instance === undefined) throw new VSphereError('NOT_FOUND', `instance ${id} not found`);
    instance.Tags = { ...instance.Tags, ...labels };
  }

  async destroy(id: string, context: DestroyContext, options?: DestroyOptions): Promise<void> {
    this.calls.push({
      method: 'destroy',
      args: options === undefined ? [id, context] : [id, context, options],
    });
    if (this.onDestroy) return this.onDestroy(id, context);
    this.instances.delete(id);
  }

  async describe(
    tags: Record<string, string>,
    options?: { properties?: boolean },
  ): Promise<InstanceDescription[]> {
    this.calls.push({ method: 'describe', args: [tags, options] });
    if (this.onDescribe) return this.onDescribe(tags);
    return [...this.instances.values()]
      .filter((instance) => Object.entries(tags).every(([key, value]) => instance.Tags[key] === value))
      .map((instance) => structuredClone(instance));
  }
}
