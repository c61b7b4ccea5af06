/**
 * The vim25 SOAP codec: requests written and responses read directly from a schema generated from
 * govmomi's type tables, with no WSDL at run time. See docs/vim25-codec.md.
 */
export {
  type DecodedObject,
  decodeElement,
  decodeResponse,
  ResponseStream,
  type ReturnItemSink,
} from './decode.ts';
export { encodeRequest, TypedValue, typed } from './encode.ts';
export { DecodeError, EncodeError, InvalidXmlCharacterError } from './errors.ts';
export { escapeXml } from './escape.ts';
export { VimFault, type VimFaultDetail, vimFaultFromDetail, vimFaultFromLocalized } from './fault.ts';
export { ManagedObjectReference, moref, redactSessionIds } from './moref.ts';
export {
  baseOf,
  fieldsOf,
  fieldType,
  hasType,
  isEnum,
  isSubtypeOf,
  method,
  methodNames,
  SCHEMA_SOURCE,
  SCHEMA_VIM25_VERSION,
  type SchemaField,
  type SchemaMethod,
  type SchemaType,
  typeInfo,
  typeNames,
  XSD_PRIMITIVES,
} from './schema.ts';
export type * from './types.ts';
export { localName, parseXml, scanXml, type XmlElement, type XmlHandler, XmlScanner } from './xml.ts';
