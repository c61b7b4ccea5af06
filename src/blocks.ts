/**
 * `infrakit-instance-vsphere/vsphere`: the building blocks under the provider, for code that talks
 * to vCenter at a lower level than instances (a session shared by several providers, a property
 * read or wait of its own, a VM built without the InfraKit bookkeeping). The everyday API is the
 * package root, which re-exports the types of this module that its own signatures use.
 */

export { VSphereClient, type VSphereClientOptions } from './client.ts';
// Errors the building blocks throw (the same classes as the root's).
export { VSphereError, type VSphereErrorCode } from './errors.ts';
export {
  type ObjectProperties,
  type PartedReadOptions,
  PropertyCollector,
  type RetrieveOptions,
} from './property/collector.ts';
export {
  InventoryMirrors,
  type MapMemo,
  type MirrorOptions,
  type MirrorReadOptions,
  type MirrorState,
  type MirrorStats,
  newMirrorStats,
  PropertyMirror,
} from './property/mirror.ts';
export {
  ObservedProperties,
  type PropertyWaitOptions,
  type WaitCheck,
  WaitCollector,
  type WaitCollectorOptions,
  type WaitStats,
  type WaitTarget,
  waitForProperties,
} from './property/wait.ts';
export type { VMProperties } from './provider/properties.ts';
export type {
  DiskProvisioning,
  DiskSpec,
  MachineProperties,
  PowerOffMode,
} from './provider/properties-machine.ts';
export type { CustomizationKind, NetworkProperties, NicProperties } from './provider/properties-network.ts';
export { type Endpoint, type EndpointOptions, resolveEndpoint } from './session/credentials.ts';
export { type InvokeOptions, Session, type SessionOptions } from './session/session.ts';
export {
  type SoapCallOptions,
  SoapClient,
  type SoapClientOptions,
  type StreamedItems,
} from './soap/client.ts';
export {
  type ResultWithProperties,
  TaskWaiter,
  type TaskWaiterOptions,
  type WaitOptions,
  WaitScope,
  type WatchAlso,
} from './tasks/waiter.ts';
export { Deadline } from './transport/deadline.ts';
export { TimeoutError } from './transport/errors.ts';
export {
  type HttpRequest,
  type HttpResponse,
  HttpTransport,
  type HttpTransportOptions,
} from './transport/http.ts';
export type { TlsOptions } from './transport/tls.ts';
export type { ReturnItemSink } from './vim25/decode.ts';
export { ManagedObjectReference, VimFault, type VimFaultDetail } from './vim25/index.ts';
export type {
  AboutInfo,
  DataObject,
  DynamicProperty,
  KeyAnyValue,
  LocalizableMessage,
  LocalizedMethodFault,
  MethodFault,
  MissingProperty,
  ObjectContent,
  ObjectSpec,
  PropertyFilterSpec,
  PropertySpec,
  SelectionSpec,
  ServiceContent,
} from './vim25/types.ts';
export {
  type BuildRequest,
  type Device,
  IsoVmBuilder,
  type Resolved,
  TemplateCloner,
  VmBuilder,
  type VmBuilderOptions,
} from './vsphere/build.ts';
export { BuildSlots, DEFAULT_BUILDS_PER_HOST, type ReleaseSlot } from './vsphere/build-slots.ts';
export {
  type DatacenterInfo,
  Inventory,
  type InventoryOptions,
  type NamedRef,
  type NetworkInfo,
  type Placement,
} from './vsphere/finder.ts';
export { type GroupFolder, GroupFolders, type GroupFoldersOptions } from './vsphere/folders.ts';
export type { MachineShape } from './vsphere/machine.ts';
export type { ResolvedNic } from './vsphere/nics.ts';
export type { ExtraConfigOption, GuestMetadata, NicSpec, PlacementChoice, VmSpec } from './vsphere/spec.ts';
export { type StopMode, VmOps } from './vsphere/vm-ops.ts';
