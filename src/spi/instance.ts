/**
 * The InfraKit instance SPI (Instance/0.6.x) as TypeScript types. Field names are InfraKit's
 * JSON names exactly, so InfraKit JSON passes through unchanged.
 */

/** Any JSON value: what InfraKit carries in `Properties`. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** An instance ID: for this provider, the VM name. */
export type InstanceID = string;

/** A logical ID (for pets: a stable name or IP the group controller tracks). */
export type LogicalID = string;

/** An attachment to be made to an instance (InfraKit `instance.Attachment`). */
export interface Attachment {
  ID: string;
  Type: string;
}

/** What the group controller asks to be provisioned (InfraKit `instance.Spec`). */
export interface InstanceSpec {
  /**
   * Provider-specific properties, checked by the provider at run time (InfraKit sends JSON). A
   * provider may type them: `VSphereInstanceProvider` takes an {@link InstanceSpec} whose
   * `Properties` are `InstanceProperties`.
   */
  Properties?: unknown;
  /** Tags to attach to the instance: `infrakit.group`, `infrakit.config.hash`, ... */
  Tags?: Record<string, string>;
  /** Boot script; reaches the guest as `guestinfo.userdata`. */
  Init?: string;
  LogicalID?: LogicalID | null;
  Attachments?: Attachment[] | null;
}

/** One instance as reported by describe (InfraKit `instance.Description`). */
export interface InstanceDescription {
  ID: InstanceID;
  LogicalID?: LogicalID | null;
  Tags: Record<string, string>;
  /** Present only when properties were asked for. */
  Properties?: JsonValue;
}

/** Why an instance is destroyed (InfraKit `instance.Context`). */
export interface DestroyContext {
  Reason: 'terminate' | 'rolling_update';
}

/** Options of {@link InstancePlugin.provision}. */
export interface ProvisionOptions {
  /**
   * `true` (default): resolve when the instance exists as asked. `false`: resolve with the ID as
   * soon as the work is safely started; describe reports it as pending until it exists.
   */
  wait?: boolean;
  /** Aborts the wait (and the vCenter task where it can be cancelled). */
  signal?: AbortSignal;
  /** Progress of the vCenter work, 0..100. */
  onProgress?: (event: { phase: string; percent?: number }) => void;
}

/** Options of {@link InstancePlugin.destroy}. */
export interface DestroyOptions {
  signal?: AbortSignal;
}

/** The five operations of an InfraKit instance plugin. */
export interface InstancePlugin {
  /** Checks instance properties; throws a ValidationError listing every problem. */
  validate(properties: JsonValue | undefined): Promise<void>;
  /** Creates an instance and returns its ID. */
  provision(spec: InstanceSpec, options?: ProvisionOptions): Promise<InstanceID>;
  /** Replaces the instance's tags with `labels` merged over the existing ones. */
  label(id: InstanceID, labels: Record<string, string>): Promise<void>;
  /**
   * Removes an instance. An ID that names no instance (never made, or already gone) rejects with a
   * `NotFoundError` of kind `vm`; the plugin server answers such a Destroy OK.
   */
  destroy(id: InstanceID, context: DestroyContext, options?: DestroyOptions): Promise<void>;
  /** Lists the instances whose tags include every one of `tags`. */
  describe(tags: Record<string, string>, options?: { properties?: boolean }): Promise<InstanceDescription[]>;
}

/** Well-known InfraKit tag names. */
export const InfraKitTags = {
  group: 'infrakit.group',
  configHash: 'infrakit.config.hash',
  /** The spelling InfraKit used before 2018-01. */
  legacyConfigHash: 'infrakit.config_sha',
  logicalId: 'infrakit.logical_id',
  state: 'infrakit.state',
} as const;
