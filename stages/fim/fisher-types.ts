// Fisher variants, apart from fisher.ts (which loads TensorFlow.js) for the stage schema.
export type FisherType = 'empirical' | 'true' | 'expected';
export const FISHER_TYPES: FisherType[] = ['empirical', 'true', 'expected'];
