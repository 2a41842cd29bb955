export { PdqIndex } from './pdq-index';
export type { NearDuplicate, PdqIndexRow, ProbeStrategy } from './pdq-index';
