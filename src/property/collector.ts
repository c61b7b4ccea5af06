/**
 * The PropertyCollector, the one way to read vCenter in bulk: RetrievePropertiesEx with every
 * result page (ContinueRetrievePropertiesEx), and ContainerView helpers. Reading a property
 * object by object is the round-trip trap pyvmomi users fall into; everything here is batched.
 */
import type { InvokeOptions, Session } from '../session/session.ts';
import type { StreamedItems } from '../soap/client.ts';
import { type ManagedObjectReference, type VimFault, vimFaultFromLocalized } from '../vim25/index.ts';
import type { ObjectContent, PropertyFilterSpec, RetrieveResult } from '../vim25/types.ts';

export interface RetrieveOptions {
  /** Objects per page asked of the server (vCenter may send fewer). */
  pageSize?: number;
  signal?: AbortSignal;
}

/** How {@link PropertyCollector.propertiesMapped} splits its read. */
export interface PartedReadOptions extends RetrieveOptions {
  /** Objects per read (default 2,000). */
  partSize?: number;
  /** Reads in flight at once (default 3). */
  concurrency?: number;
}

/** @internal Objects per read of {@link PropertyCollector.propertiesMapped} (the benchmark's floor copies it). */
export const DEFAULT_PART_SIZE = 2_000;
/** @internal Reads in flight of {@link PropertyCollector.propertiesMapped}. */
export const DEFAULT_PART_CONCURRENCY = 3;

/** One object's properties as a path → value map, with the paths vCenter could not read. */
export interface ObjectProperties {
  obj: ManagedObjectReference;
  props: Map<string, unknown>;
  /** Paths that came back in missingSet, with their fault. */
  missing: Map<string, VimFault>;
}

/** A NotAuthenticated hidden in missingSet: vcsim answers an unauthenticated RetrievePropertiesEx this way. */
export function authFaultInObject(object: ObjectContent): VimFault | undefined {
  for (const missing of object.missingSet ?? []) {
    const fault = vimFaultFromLocalized(missing.fault);
    if (fault.is('NotAuthenticated')) return fault;
  }
  return undefined;
}

export class PropertyCollector {
  readonly session: Session;

  constructor(session: Session) {
    this.session = session;
  }

  private async collectorRef(): Promise<ManagedObjectReference> {
    return (await this.session.serviceContent()).propertyCollector;
  }

  /**
   * Every object of one RetrievePropertiesEx, all result pages followed, each given to `map` as
   * soon as it is decoded, while the body is still arriving (objects `map` turns into `undefined`
   * are dropped). Neither the response nor its decoded objects are ever held whole: only what
   * `map` returns is kept.
   */
  async retrieveMapped<T>(
    specSet: PropertyFilterSpec[],
    map: (object: ObjectContent) => T | undefined,
    options: RetrieveOptions = {},
  ): Promise<T[]> {
    const collector = await this.collectorRef();
    const out: T[] = [];
    // What the current page's answer has delivered so far; void if that answer is retried.
    let page: T[] = [];
    const stream: StreamedItems = {
      field: 'objects',
      begin: () => {
        page = [];
      },
      item: (value) => {
        const object = value as ObjectContent;
        // Thrown from inside the decode: the session logs in again and the page comes again.
        const fault = authFaultInObject(object);
        if (fault) throw fault;
        const mapped = map(object);
        if (mapped !== undefined) page.push(mapped);
      },
    };
    const invokeOptions: InvokeOptions = { stream };
    if (options.signal) invokeOptions.signal = options.signal;
    let result = await this.session.invoke<RetrieveResult | undefined>(
      'RetrievePropertiesEx',
      { _this: collector, specSet, options: options.pageSize ? { maxObjects: options.pageSize } : {} },
      invokeOptions,
    );
    for (;;) {
      for (const item of page) out.push(item);
      page = [];
      if (!result?.token) return out;
      result = await this.session.invoke<RetrieveResult | undefined>(
        'ContinueRetrievePropertiesEx',
        { _this: collector, token: result.token },
        invokeOptions,
      );
    }
  }

  /**
   * `paths` of many known objects of one type, each object given to `map` as it is decoded, read
   * in parts of {@link PartedReadOptions.partSize} objects with
   * {@link PartedReadOptions.concurrency} reads in flight: the server collects the next parts
   * while the answers of the first are decoded, instead of collecting everything, then sending
   * it, then waiting for it to be decoded. Results come in the order of `objects`. An object
   * deleted since it was listed does not fail the read: vCenter reports it with a
   * ManagedObjectNotFound in its missingSet (given to `map` like any object), vcsim leaves it out.
   */
  async propertiesMapped<T>(
    objects: readonly ManagedObjectReference[],
    paths: readonly string[],
    map: (object: ObjectContent) => T | undefined,
    options: PartedReadOptions = {},
  ): Promise<T[]> {
    if (objects.length === 0) return [];
    const size = Math.max(1, options.partSize ?? DEFAULT_PART_SIZE);
    const parts: ManagedObjectReference[][] = [];
    for (let at = 0; at < objects.length; at += size) parts.push(objects.slice(at, at + size));
    const read: RetrieveOptions = {
      ...(options.pageSize ? { pageSize: options.pageSize } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    };
    const results: T[][] = new Array(parts.length);
    let next = 0;
    let failed = false;
    const worker = async (): Promise<void> => {
      while (!failed && next < parts.length) {
        const index = next++;
        const list = parts[index]!;
        try {
          results[index] = await this.retrieveMapped(
            [
              {
                propSet: [{ type: list[0]!.type, pathSet: [...paths] }],
                objectSet: list.map((obj) => ({ obj, skip: false })),
                reportMissingObjectsInResults: true,
              },
            ],
            map,
            read,
          );
        } catch (error) {
          // The reads in flight end on their own; no new one starts.
          failed = true;
          throw error;
        }
      }
    };
    const workers = Math.max(1, Math.min(options.concurrency ?? DEFAULT_PART_CONCURRENCY, parts.length));
    await Promise.all(Array.from({ length: workers }, worker));
    const out: T[] = [];
    for (const part of results) for (const item of part) out.push(item);
    return out;
  }

  /** All objects of a RetrievePropertiesEx, every page followed. */
  async retrieve(specSet: PropertyFilterSpec[], options: RetrieveOptions = {}): Promise<ObjectProperties[]> {
    return this.retrieveMapped(specSet, toObjectProperties, options);
  }

  /** Properties of known objects of one type (one round trip for all of them). */
  async properties(
    objects: ManagedObjectReference[],
    paths: string[],
    options: RetrieveOptions = {},
  ): Promise<ObjectProperties[]> {
    if (objects.length === 0) return [];
    const type = objects[0]!.type;
    return this.retrieve(
      [{ propSet: [{ type, pathSet: paths }], objectSet: objects.map((obj) => ({ obj, skip: false })) }],
      options,
    );
  }

  /** One property of one object; `undefined` if unset. */
  async property<T = unknown>(
    obj: ManagedObjectReference,
    path: string,
    signal?: AbortSignal,
  ): Promise<T | undefined> {
    const [result] = await this.properties([obj], [path], signal ? { signal } : {});
    const fault = result?.missing.get(path);
    if (fault) throw fault;
    return result?.props.get(path) as T | undefined;
  }

  /**
   * Runs `fn` with a ContainerView over `container`, destroyed afterwards. A view belongs to the
   * session that made it: never keep one across calls that might re-login.
   */
  async withContainerView<T>(
    container: ManagedObjectReference,
    types: string[],
    fn: (view: ManagedObjectReference) => Promise<T>,
    recursive = true,
  ): Promise<T> {
    const content = await this.session.serviceContent();
    const view = await this.session.invoke<ManagedObjectReference>('CreateContainerView', {
      _this: content.viewManager,
      container,
      type: types,
      recursive,
    });
    try {
      return await fn(view);
    } finally {
      await this.session.invoke('DestroyView', { _this: view }).catch(() => undefined);
    }
  }

  /** Objects of `type` anywhere under `container`, with `paths` read in the same query. */
  async find(
    container: ManagedObjectReference,
    type: string,
    paths: string[],
    options: RetrieveOptions = {},
  ): Promise<ObjectProperties[]> {
    return this.findMapped(container, type, paths, toObjectProperties, options);
  }

  /** {@link find}, each object given to `map` as it is decoded (see {@link retrieveMapped}). */
  async findMapped<T>(
    container: ManagedObjectReference,
    type: string,
    paths: string[],
    map: (object: ObjectContent) => T | undefined,
    options: RetrieveOptions = {},
  ): Promise<T[]> {
    return this.withContainerView(container, [type], (view) =>
      this.retrieveMapped([viewSpec(view, type, paths)], map, options),
    );
  }
}

/** A filter spec that reads `paths` of every `type` object in a ContainerView. */
export function viewSpec(view: ManagedObjectReference, type: string, paths: string[]): PropertyFilterSpec {
  return {
    propSet: [{ type, pathSet: paths }],
    objectSet: [
      {
        obj: view,
        skip: true,
        selectSet: [
          { _type: 'TraversalSpec', name: 'view', type: 'ContainerView', path: 'view', skip: false },
        ],
      },
    ],
  };
}

export function toObjectProperties(object: ObjectContent): ObjectProperties {
  const props = new Map<string, unknown>();
  for (const p of object.propSet ?? []) props.set(p.name, p.val);
  const missing = new Map<string, VimFault>();
  for (const m of object.missingSet ?? []) missing.set(m.path, vimFaultFromLocalized(m.fault));
  return { obj: object.obj, props, missing };
}
