// Worker thread for the fim stage: loads the model once, then computes Fisher sums on request.
import { parentPort, workerData } from 'node:worker_threads';
import { StageInputError } from 'fisherflow';
import { initBackend } from '../../ml/bert/backend.js';
import { BertForSequenceClassification } from '../../ml/bert/model.js';
import { fisherSums, type IndexedExample } from './fisher.js';
import { locateNonFiniteInModel, accumulateMode, type RunnerSetup } from './runner.js';
import { HostAccumulator } from './accumulator.js';

const setup = workerData as RunnerSetup;
const port = parentPort!;
const fail = (e: unknown): void => {
  port.postMessage({ type: 'error', message: e instanceof Error ? e.message : String(e), input: e instanceof StageInputError });
};

try {
  const info = await initBackend(setup.backend, { gpu: setup.gpu, threads: setup.threads });
  const model = await BertForSequenceClassification.fromPretrained(setup.modelDir);
  const into = HostAccumulator.attach(setup.sums);
  const accumulate = accumulateMode(info.backend);
  port.postMessage({ type: 'ready', info });
  port.on('message', async (msg: { type: string; examples: IndexedExample[] }) => {
    try {
      if (msg.type === 'run') {
        // Adds into the shared sums (SharedArrayBuffer from the main thread): nothing model-sized is sent back.
        const { examples } = await fisherSums(model, msg.examples, { ...setup.fisher, accumulate, into, onExamples: (n) => port.postMessage({ type: 'progress', n }) });
        port.postMessage({ type: 'done', examples });
      } else if (msg.type === 'locate') {
        port.postMessage({ type: 'located', index: await locateNonFiniteInModel(model, msg.examples, { ...setup.fisher, accumulate }) });
      }
    } catch (e) { fail(e); }
  });
} catch (e) {
  fail(e);
}
