// The platform API's shapes, as the server sends them (packages/server routes under /api).

export interface User {
  id: string;
  email: string;
  name: string;
  role: string;
}

export interface Session {
  user: User | null;
  csrfToken: string | null;
}

export interface Model {
  id: string;
  name: string;
  version: string;
  format: string;
  sizeBytes: number;
  parameters: number | null;
  quantization: string | null;
  contextLength: number | null;
  aliases: string[];
}

export interface ChatSettings {
  systemPrompt: string;
  temperature: number;
  maxTokens: number;
}

export interface Chat {
  id: string;
  title: string;
  modelId: string | null;
  settings: ChatSettings;
  createdAt: string;
  updatedAt: string;
}

export interface Message {
  id: string;
  role: 'system' | 'user' | 'assistant';
  content: string;
  model: string | null;
  promptTokens: number | null;
  completionTokens: number | null;
  createdAt: string;
}

export interface Usage {
  promptTokens: number;
  completionTokens: number;
}

export interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  createdAt: string;
  lastUsedAt: string | null;
}

export interface QuickstartStatus {
  state: 'idle' | 'running' | 'succeeded' | 'failed';
  stage: string | null;
  step: number | null;
  steps: number | null;
  loss: number | null;
  etaSeconds: number | null;
  error: string | null;
  modelId: string | null;
}

/** One event of a chat answer stream. */
export type ChatStreamEvent =
  | { type: 'message-created'; message: Message }
  | { type: 'text-delta'; text: string }
  | { type: 'message-finished'; message: Message; finishReason: string }
  | { type: 'error'; message: string };
