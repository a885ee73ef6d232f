// One chat message: author, Markdown body, token counts, and its actions (copy; edit and resend for the
// user's messages; regenerate for the last answer).
import { useEffect, useRef, useState } from 'react';
import { formatCount } from '../common/format.ts';
import type { Message } from '../types.ts';
import { copyText } from '../common/clipboard.ts';
import { Markdown } from './Markdown.tsx';

function tokenSummary(message: Message): string | null {
  const parts = [];
  if (message.promptTokens != null) parts.push(`${formatCount(message.promptTokens)} prompt`);
  if (message.completionTokens != null) parts.push(`${formatCount(message.completionTokens)} completion`);
  return parts.length ? `${parts.join(' · ')} tokens` : null;
}

export function MessageView({
  message,
  modelName,
  busy,
  streaming = false,
  onRegenerate,
  onEdit,
}: {
  message: Message;
  modelName: string | null;
  busy: boolean;
  streaming?: boolean;
  onRegenerate?: () => void;
  onEdit?: (content: string) => void;
}) {
  const [editing, setEditing] = useState(false);
  const [copied, setCopied] = useState(false);
  const editButton = useRef<HTMLButtonElement>(null);
  const fromUser = message.role === 'user';
  // Placeholders shown before the server confirms a message have no id the server knows.
  const saved = !/^(pending|partial)-/.test(message.id);
  const tokens = tokenSummary(message);

  if (editing && onEdit) {
    return (
      <EditForm
        initial={message.content}
        onCancel={() => {
          setEditing(false);
          requestAnimationFrame(() => editButton.current?.focus());
        }}
        onSubmit={(content) => {
          setEditing(false);
          onEdit(content);
        }}
      />
    );
  }

  return (
    <article
      className={`message ${fromUser ? 'from-user' : 'from-assistant'}`}
      aria-label={fromUser ? 'Your message' : 'Answer'}
      aria-busy={streaming || undefined}
    >
      <div className="message-author">{fromUser ? 'You' : (modelName ?? 'Assistant')}</div>
      <div className="message-body">
        {message.content || streaming ? (
          <Markdown source={message.content} />
        ) : (
          <p className="muted">(empty answer)</p>
        )}
        {streaming && <span className="cursor" aria-hidden="true" />}
      </div>
      {!streaming && (
        <div className="message-footer">
          {tokens && <span className="tokens">{tokens}</span>}
          <span className="message-actions">
            <button
              type="button"
              className="text-button"
              onClick={() =>
                copyText(message.content).then(() => {
                  setCopied(true);
                  setTimeout(() => setCopied(false), 1500);
                })
              }
            >
              {copied ? 'Copied' : 'Copy'}
            </button>
            {onEdit && saved && (
              <button
                ref={editButton}
                type="button"
                className="text-button"
                disabled={busy}
                onClick={() => setEditing(true)}
              >
                Edit
              </button>
            )}
            {onRegenerate && saved && (
              <button type="button" className="text-button" disabled={busy} onClick={onRegenerate}>
                Regenerate
              </button>
            )}
          </span>
        </div>
      )}
    </article>
  );
}

function EditForm({
  initial,
  onSubmit,
  onCancel,
}: {
  initial: string;
  onSubmit: (content: string) => void;
  onCancel: () => void;
}) {
  const [text, setText] = useState(initial);
  const ref = useRef<HTMLTextAreaElement>(null);
  useEffect(() => {
    const area = ref.current;
    area?.focus();
    area?.setSelectionRange(area.value.length, area.value.length);
  }, []);
  return (
    <form
      className="message from-user editing"
      aria-label="Edit message"
      onSubmit={(event) => {
        event.preventDefault();
        if (text.trim()) onSubmit(text);
      }}
    >
      <label className="visually-hidden" htmlFor="edit-message">
        Edited message
      </label>
      <textarea
        id="edit-message"
        ref={ref}
        value={text}
        rows={Math.min(12, text.split('\n').length + 1)}
        onChange={(event) => setText(event.target.value)}
        onKeyDown={(event) => {
          if (event.key === 'Escape') {
            event.preventDefault();
            onCancel();
          } else if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) {
            event.preventDefault();
            if (text.trim()) onSubmit(text);
          }
        }}
      />
      <p className="muted small">Sending replaces this message and everything after it.</p>
      <div className="edit-actions">
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" className="primary" disabled={!text.trim()}>
          Save and send
        </button>
      </div>
    </form>
  );
}
