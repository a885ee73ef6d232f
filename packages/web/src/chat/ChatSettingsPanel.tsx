// Per-chat generation settings: system prompt, temperature and the answer's token limit.
import { useState, type FormEvent } from 'react';
import type { ChatSettings } from '../types.ts';

/** What a new chat shows before the user changes anything; the server applies its own when none are sent. */
export const defaultSettings: ChatSettings = { systemPrompt: '', temperature: 0.7, maxTokens: 512 };

export function ChatSettingsPanel({
  settings,
  onSave,
  onCancel,
}: {
  settings: ChatSettings;
  onSave: (settings: ChatSettings) => void;
  onCancel: () => void;
}) {
  const [systemPrompt, setSystemPrompt] = useState(settings.systemPrompt);
  const [temperature, setTemperature] = useState(String(settings.temperature));
  const [maxTokens, setMaxTokens] = useState(String(settings.maxTokens));

  function submit(event: FormEvent) {
    event.preventDefault();
    onSave({ systemPrompt, temperature: Number(temperature), maxTokens: Number(maxTokens) });
  }

  return (
    <form
      id="chat-settings"
      className="settings-panel"
      aria-label="Chat settings"
      onSubmit={submit}
      onKeyDown={(event) => {
        if (event.key === 'Escape') {
          event.preventDefault();
          onCancel();
        }
      }}
    >
      <label className="field wide">
        <span>System prompt</span>
        <textarea
          value={systemPrompt}
          rows={3}
          autoFocus
          placeholder="How the model should behave in this chat"
          onChange={(event) => setSystemPrompt(event.target.value)}
        />
      </label>
      <label className="field">
        <span>Temperature</span>
        <input
          type="number"
          min={0}
          max={2}
          step={0.05}
          required
          value={temperature}
          onChange={(event) => setTemperature(event.target.value)}
        />
      </label>
      <label className="field">
        <span>Max tokens</span>
        <input
          type="number"
          min={1}
          step={1}
          required
          value={maxTokens}
          onChange={(event) => setMaxTokens(event.target.value)}
        />
      </label>
      <div className="settings-actions">
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" className="primary">
          Save
        </button>
      </div>
    </form>
  );
}
