// The shipped pipelines' data params pointed at the repository's data/ (the tests copy a
// pipeline into a temporary workspace, where its relative ../data paths would not resolve).
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/cli.js';

const DATA = join(REPO_ROOT, 'data');

export const VENDORED_DATA = [
  '--set', `sst2_train=${join(DATA, 'sst2', 'train.tsv.gz')}`,
  '--set', `sst2_dev=${join(DATA, 'sst2', 'dev.tsv')}`,
  '--set', `tokenizer=${join(DATA, 'bert-base-cased')}`,
];
