export {
  LIST_TYPES,
  listFileSchema,
  type ListFile,
  type ListType,
  type Warning,
  type Warninglist,
  type WarninglistMatch,
} from './list-file';
export { WarninglistIndex } from './matcher';
export { mergeWarnings } from './merge';
export {
  MANIFEST_FILE,
  loadWarninglists,
  manifestSchema,
  readListFile,
  readSnapshot,
  type Manifest,
  type Snapshot,
} from './snapshot';
export { kindsOf, probesOf, type ValueKind } from './targets';
export { readerWarnings } from './reader';
