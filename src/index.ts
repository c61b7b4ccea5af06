/**
 * infrakit-instance-vsphere: provisions, labels, describes and destroys vCenter VMs for InfraKit
 * group controllers, over vim25 SOAP with no WSDL at run time.
 */

export { VSphereClient, type VSphereClientOptions } from './client.ts';
export {
  InstanceNotManagedError,
  ValidationError,
  type ValidationIssue,
  VSphereError,
  type VSphereErrorCode,
} from './errors.ts';
export { AmbiguousNameError, NotFoundError } from './inventory/errors.ts';
export { type DatacenterInfo, Inventory } from './inventory/inventory.ts';
export {
  type ListenOptions,
  PluginServer,
  type PluginServerOptions,
  type VendorInfo,
} from './plugin/server.ts';
export {
  installSignalHandlers,
  PluginSocketInUseError,
  type RunningPluginServer,
  resolvePluginDir,
  type StartPluginServerOptions,
  startPluginServer,
} from './plugin/socket.ts';
export { type ObjectProperties, PropertyCollector } from './property/collector.ts';
export {
  InventoryMirrors,
  type MirrorOptions,
  type MirrorStats,
  newMirrorStats,
  PropertyMirror,
} from './property/mirror.ts';
export {
  ObjectGoneError,
  ObservedProperties,
  type PropertyWaitOptions,
  type WaitCheck,
  WaitCollector,
  type WaitCollectorOptions,
  type WaitStats,
  type WaitTarget,
  waitForProperties,
} from './property/wait.ts';
export {
  AnnotationError,
  belongsToGroup,
  DELETED_ANNOTATION,
  type DecodedAnnotation,
  decodeAnnotation,
  encodeAnnotation,
  type InstanceMetadata,
  type PowerOffSetting,
} from './provider/annotation.ts';
export { type BuildRequest, IsoVmBuilder, TemplateCloner } from './provider/build.ts';
export { GroupFolders } from './provider/folders.ts';
export { type ProviderDefaults, parseProperties, type VMProperties } from './provider/properties.ts';
export type {
  DiskProvisioning,
  DiskSpec,
  MachineProperties,
  PowerOffMode,
} from './provider/properties-machine.ts';
export type {
  AnnotationCodec,
  BackgroundFailure,
  DescribeOptions,
  VmBuilderLike,
  VmDetails,
  VSphereInstanceProviderOptions,
} from './provider/provider.ts';
export { VSphereInstanceProvider } from './provider/provider.ts';
export { parseInstanceSpec, parseTags } from './provider/spec.ts';
export {
  FileExistsError,
  type SizedStream,
  type UploadOptions,
  UploadSizeMismatchError,
} from './provider/upload.ts';
export {
  faultOf,
  GuestShutdownError,
  isFault,
  type StopMode,
  VerificationError,
  VmOps,
} from './provider/vm-ops.ts';
export { type Endpoint, type EndpointOptions, resolveEndpoint } from './session/credentials.ts';
export { LoginError, Session, SessionClosedError, type SessionOptions } from './session/session.ts';
export { SoapClient, type SoapClientOptions } from './soap/client.ts';
export type {
  Attachment,
  DestroyContext,
  DestroyOptions,
  InstanceDescription,
  InstanceID,
  InstancePlugin,
  InstanceSpec,
  JsonValue,
  LogicalID,
  ProvisionOptions,
} from './spi/instance.ts';
export { InfraKitTags } from './spi/instance.ts';
export {
  type ResultWithProperties,
  TaskFailedError,
  TaskOutcomeUnknownError,
  TaskWaiter,
  type WaitOptions,
  WaitScope,
  type WatchAlso,
} from './tasks/waiter.ts';
export { AbortError, HttpStatusError, TimeoutError, TlsError, TransportError } from './transport/errors.ts';
export { HttpTransport, type HttpTransportOptions } from './transport/http.ts';
export type { TlsOptions } from './transport/tls.ts';
export { ManagedObjectReference, VimFault } from './vim25/index.ts';
