// The `train` stage: fine-tunes a BERT sequence classifier from a checkpoint folder, or trains one
// from a config, on the tokenize stage's data; evaluates each epoch; writes an HF-format checkpoint.
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { defineStage, StageInputError } from 'fisherflow';
import { readTokenizedJsonl, type TokenizedRow } from '../../ml/bert/batch.js';
import { resolveConfig, type BertConfig } from '../../ml/bert/config.js';
import { backendMetadata } from '../../ml/bert/backend-info.js';
import { checkRows } from '../../ml/bert/check-rows.js';
import { checkTrainInputs, settingsFrom, trainInputSchema, type TrainInputs } from './inputs.js';
import { tokenizerVocabSize } from '../../ml/tokenizer/vocabulary.js';

/** The config the model will have: from the checkpoint's config.json or `with.config`, vocab grown to the tokenizer's. */
function effectiveConfig(inputs: TrainInputs, tokenizerVocab: number | undefined): BertConfig {
  if (inputs.model !== undefined) {
    const file = join(inputs.model, 'config.json');
    if (!existsSync(file)) throw new StageInputError(`with.model: ${inputs.model} has no config.json (expected an HF checkpoint folder)`);
    let raw: Record<string, unknown>;
    try { raw = JSON.parse(readFileSync(file, 'utf8')); } catch (e) {
      throw new StageInputError(`with.model: ${file} is not valid JSON (${(e as Error).message})`);
    }
    const cfg = resolveConfig(raw as Partial<BertConfig>, file);
    if (tokenizerVocab !== undefined && tokenizerVocab > cfg.vocab_size) cfg.vocab_size = tokenizerVocab;
    return cfg;
  }
  const partial = { ...(inputs.config ?? {}) } as Partial<BertConfig>;
  if (partial.vocab_size === undefined) partial.vocab_size = tokenizerVocab;
  else if (tokenizerVocab !== undefined && partial.vocab_size < tokenizerVocab) {
    throw new StageInputError(`with.config.vocab_size: ${partial.vocab_size} is smaller than the tokenizer's ${tokenizerVocab} tokens`);
  }
  return resolveConfig(partial, 'with.config');
}

const stage = defineStage<TrainInputs>({
  stageApiVersion: 1,
  type: 'train',
  description: 'Fine-tune (or train from a config) a BERT sequence classifier: AdamW, linear warm-up/decay, clipping; per-epoch eval, checkpoints and resume.',
  inputSchema: trainInputSchema,
  outputs: () => ({
    model: { path: 'model', kind: 'dir', description: 'HF checkpoint: config.json, model.safetensors, tokenizer files' },
    metrics: { path: 'metrics.json', kind: 'file', metrics: true, description: 'Per-epoch train loss, eval accuracy/loss, throughput; loss curve' },
  }),
  // Two cores for the native BLAS's matrix products (one on wasm alone); clamped to the machine's slots.
  resources: { gpu: 'optional', cpu: 2 },
  worker: true,
  check: checkTrainInputs,
  async run(ctx) {
    const inputs = ctx.inputs;
    const problems = checkTrainInputs(inputs);
    if (problems.length) throw new StageInputError(problems.join('; '));
    // TensorFlow.js loads here, not at import: the engine imports stage modules to plan, and
    // planning must stay fast.
    const { initBackend } = await import('../../ml/bert/backend.js');
    const { BertForSequenceClassification } = await import('../../ml/bert/model.js');
    const { runTraining } = await import('./trainer.js');
    // A GPU assigned by the scheduler (resources gpu: optional) makes 'auto' try GPU backends first.
    const backend = await initBackend(inputs.backend ?? 'auto', { gpu: ctx.device.gpus.length > 0 });
    ctx.log(`backend ${backend.backend}: ${backend.device}${ctx.device.gpus.length ? ` (assigned GPU ${ctx.device.gpus.join(',')})` : ''}`);
    if (backend.note) ctx.log(backend.note);

    const tokVocab = inputs.tokenizer !== undefined ? tokenizerVocabSize(inputs.tokenizer) : undefined;
    const cfg = effectiveConfig(inputs, tokVocab);
    const settings = settingsFrom(inputs, cfg.pad_token_id ?? 0);
    if (settings.padTo !== undefined && settings.padTo > cfg.max_position_embeddings) {
      throw new StageInputError(`with.max_length: ${settings.padTo} is more than the model's max_position_embeddings ${cfg.max_position_embeddings}`);
    }
    const limits = { vocabSize: cfg.vocab_size, numLabels: cfg.num_labels, maxPositions: cfg.max_position_embeddings, typeVocabSize: cfg.type_vocab_size, padTo: settings.padTo };
    const train = await readTokenizedJsonl(inputs.data);
    checkRows('data', inputs.data, train, limits);
    const evalSets: Record<string, TokenizedRow[]> = {};
    for (const [name, file] of Object.entries(inputs.eval ?? {})) {
      evalSets[name] = await readTokenizedJsonl(file);
      checkRows(`eval.${name}`, file, evalSets[name], limits);
    }

    const result = await runTraining({
      settings,
      train,
      evalSets,
      workDir: ctx.workDir,
      fingerprintExtra: { model: inputs.model ?? null, config: cfg },
      async createModel() {
        if (inputs.model === undefined) return BertForSequenceClassification.fromConfig(cfg, settings.seed);
        // The seed also initialises what the checkpoint lacks (a pre-trained base model has no
        // classifier) and the added tokens' rows, as transformers.set_seed before from_pretrained.
        const m = await BertForSequenceClassification.fromPretrained(inputs.model, { seed: settings.seed });
        // Worded as transformers' warning, so that it reads as the familiar thing it is.
        if (m.source.initialised?.length) {
          const names = `[${m.source.initialised.map((n) => `'${n}'`).join(', ')}]`;
          ctx.log(`Some weights of BertForSequenceClassification were not initialized from the model checkpoint at ${inputs.model} and are newly initialized: ${names} (seed ${settings.seed}: normal(0, ${m.config.initializer_range}) weights, zero biases, as transformers' _init_weights)`);
          ctx.log('You should probably TRAIN this model on a down-stream task to be able to use it for predictions and inference.');
        }
        if (m.config.vocab_size < cfg.vocab_size) {
          ctx.log(`resizing token embeddings ${m.config.vocab_size} → ${cfg.vocab_size} for the tokenizer's added tokens`);
          m.resizeTokenEmbeddings(cfg.vocab_size, settings.seed);
        }
        return m;
      },
      loadModel: (dir) => BertForSequenceClassification.fromPretrained(dir),
      log: (m) => ctx.log(m),
      progress: (d, t, note) => ctx.progress(d, t, note),
      signal: ctx.signal,
    });
    try {
      await result.model.save(join(ctx.outDir, 'model'), { tokenizerDir: inputs.tokenizer, metadata: backendMetadata(backend) });
      writeFileSync(join(ctx.outDir, 'metrics.json'), JSON.stringify(result.metrics, null, 2) + '\n');
    } finally {
      result.model.dispose();
    }
  },
});

export default stage;
