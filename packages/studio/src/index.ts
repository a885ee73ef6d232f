// @ownlm/studio: everything that turns data into models (formats, tokenizer, data pipeline, training).
export {
  Tokenizer,
  type ChatMessage,
  type ChatTemplateOptions,
  type DecodeOptions,
  type EncodeOptions,
} from './tokenizer/tokenizer.ts';
export {
  trainTokenizer,
  type TrainProgress,
  type TrainTokenizerOptions,
  type TrainTokenizerResult,
} from './tokenizer/train.ts';
export { CHATML_TEMPLATE, DEFAULT_SPECIAL_TOKENS } from './tokenizer/tokenizer-files.ts';
export { packCorpus, type PackOptions } from './data/pack.ts';
export {
  readShardIndex,
  TokenShardLoader,
  type Batch,
  type BatchOptions,
  type ShardIndex,
} from './data/token-shards.ts';
export {
  prepareCorpus,
  type PrepareOptions,
  type PrepareProgress,
  type PrepareHooks,
} from './data/prepare.ts';
export { demoCorpusSources, brownCorpusSource, nlpCorpusSource } from './data/demo-corpus.ts';
export {
  fileSource,
  fileFormats,
  type CorpusSource,
  type SourceDocument,
  type FileFormat,
} from './data/sources.ts';
export {
  resolveCorpusConfig,
  defaultCorpusConfig,
  type CorpusConfig,
  type CorpusConfigInput,
} from './data/config.ts';
export { DataError, type DataErrorCode } from './data/errors.ts';
export { serveRequests, WorkerPool } from './data/worker-pool.ts';
export { emptyPiiCounts, scrubPii } from './data/pii.ts';
export { renderReportMarkdown, type CorpusReport } from './data/report.ts';
export { runTraining, type RunOptions, type RunResult } from './train/trainer.ts';
export {
  trainLoop,
  type LoopSettings,
  type MicroBatch,
  type RunFolder,
  type TrainEvent,
  type TrainLoopInput,
  type TrainLoopResult,
} from './train/loop.ts';
export {
  ConfigError,
  flagName,
  mismatch,
  oneOf,
  valueFromText,
  type ConfigErrorCode,
  type ConfigTable,
  type Rule,
  type Setting,
} from './config-table.ts';
export {
  configFromFlags,
  mergeConfig,
  modelConfig,
  readConfigFile,
  resolveConfig,
  trainDefaults,
  trainSettings,
  type TrainConfig,
} from './train/config.ts';
export {
  bestCheckpoint,
  listCheckpoints,
  loadCheckpoint,
  CheckpointError,
  type LoadedCheckpoint,
  type TrainerState,
} from './train/checkpoint.ts';
export { preflight, largestFittingBatch, type Preflight } from './train/preflight.ts';
export { evaluateText, type TextEvaluation, type EvaluateOptions } from './train/evaluate.ts';
export { loadModelFolder, importModel, type LoadedModel, type ImportOptions } from './train/import.ts';
export { exportModel, exportLoadedModel, type ExportFormat, type ExportReport } from './train/export.ts';
export { quoteValue } from './formats/errors.ts';
export { readGgufHeader, type GgufHeader, type GgufValue } from './formats/gguf.ts';
export {
  applyPeftAdapter,
  peftAdapterConfig,
  readPeftAdapter,
  writePeftAdapter,
  PEFT_CONFIG_FILE,
  PEFT_WEIGHTS_FILE,
  type LoraWeights,
  type PeftAdapter,
  type PeftAdapterConfig,
} from './formats/peft-adapter.ts';
export { ggufLoraMetadata, writeGgufLoraAdapter } from './formats/gguf-lora.ts';
export { loadLlamaCpp } from './formats/llama-cpp.ts';
export type {
  Conversation,
  ConversationFormat,
  ConversationMessage,
  ConversationRole,
  RejectedLine,
} from './finetune/conversation.ts';
export {
  ConversationImporter,
  conversationFormats,
  importConversations,
  importConversationsFile,
  type ImportConversationsOptions,
  type ImportConversationsResult,
} from './finetune/import-conversations.ts';
export { datasetStats, type DatasetStats } from './finetune/dataset-stats.ts';
export {
  datasetFiles,
  readConversationDataset,
  splitConversations,
  toJsonLine,
  writeConversationDataset,
  type ConversationDataset,
  type ConversationDatasetInfo,
  type ConversationSplit,
  type SplitOptions,
} from './finetune/dataset.ts';
export {
  builtinArcs,
  builtinPersonas,
  builtinTopics,
  synthesizeConversations,
  type Arc,
  type ConversationGenerator,
  type Persona,
  type SynthesisReport,
  type SynthesisResult,
  type SynthesizeOptions,
  type Topic,
  type TurnKind,
} from './finetune/synthetic.ts';
export {
  encodeConversation,
  encodeConversations,
  type EncodedConversation,
  type EncodedDataset,
} from './finetune/sft-encode.ts';
export {
  finetuneConfigFromFlags,
  finetuneDefaults,
  finetuneSettings,
  mergeFinetuneConfig,
  readFinetuneConfigFile,
  resolveFinetuneConfig,
  type FinetuneConfig,
} from './finetune/finetune-config.ts';
export {
  finetunePreflight,
  readBaseModelInfo,
  runFinetune,
  type BaseModelInfo,
  type ArtifactKind,
  type FinetuneEstimate,
  type FinetuneEvent,
  type FinetuneResult,
  type FinetuneRunOptions,
  type FinetuneStage,
} from './finetune/finetune.ts';
export type { FinetuneOutputs } from './finetune/outputs.ts';
export { assistantLoss, type AssistantEvaluation, type FinetuneReport } from './finetune/compare.ts';
export {
  renderReportHtml as renderFinetuneReportHtml,
  renderReportMarkdown as renderFinetuneReportMarkdown,
} from './finetune/report-render.ts';
export {
  classifierLabels,
  moderationCategories,
  type ClassifierLabel,
  type ModerationCategory,
  type SafetyReason,
} from './safety/categories.ts';
export {
  loadSafetyClassifier,
  safetyClassifierDefaults,
  saveSafetyClassifier,
  shippedClassifier,
  trainSafetyClassifier,
  SafetyClassifier,
  type ClassifierPrediction,
  type SafetyClassifierConfig,
} from './safety/classifier.ts';
export {
  generateClassifierDataset,
  generateRedteamSuite,
  readLabelledExamples,
  readRedteamSuite,
  redteamCategories,
  safetyDataDir,
  safetyDataFiles,
  SHIPPED_DATA_SEED,
  writeSafetyDatasets,
  type LabelledExample,
  type RedteamCategory,
  type RedteamPrompt,
} from './safety/datasets.ts';
export { evaluateSafety, moderationLabel, type SafetyEvaluation } from './safety/evaluate.ts';
export {
  guardModeration,
  guardPrompt,
  llamaGuardCategories,
  parseGuardVerdict,
  type GuardCategory,
  type GuardMessage,
  type GuardVerdict,
} from './safety/guard.ts';
export {
  detectInjection,
  hiddenPayloads,
  type InjectionOptions,
  type InjectionResult,
} from './safety/injection.ts';
export {
  builtinModerationPolicy,
  mergeModerations,
  moderate,
  type BuiltinFilters,
  type ModerationPolicy,
  type ModerationResult,
} from './safety/moderate.ts';
export {
  runRedteam,
  redteamSecrets,
  redteamSystemPrompt,
  type FilterVerdict,
  type RedteamAnswer,
  type RedteamMessage,
  type RedteamOptions,
  type RedteamOutcome,
  type RedteamReport,
} from './safety/redteam.ts';
export {
  redteamReportFiles,
  renderRedteamHtml,
  renderRedteamMarkdown,
  writeRedteamReport,
} from './safety/redteam-render.ts';
export { compileRules, loadRules, shippedRules, type RuleDefinition, type RuleSet } from './safety/rules.ts';
