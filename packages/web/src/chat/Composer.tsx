// The message box: Enter sends, Shift+Enter starts a new line, Esc (anywhere on the page) stops an answer.
import { useLayoutEffect, useRef, useState, type FormEvent } from 'react';

export function Composer({
  streaming,
  disabled,
  onSend,
  onStop,
}: {
  streaming: boolean;
  disabled: boolean;
  /** Resolves true when the message was accepted, so the box may be cleared. */
  onSend: (content: string) => Promise<boolean>;
  onStop: () => void;
}) {
  const [text, setText] = useState('');
  const ref = useRef<HTMLTextAreaElement>(null);

  useLayoutEffect(() => {
    // Grow with the text up to the CSS max-height, then scroll.
    const area = ref.current;
    if (!area) return;
    area.style.height = 'auto';
    area.style.height = `${area.scrollHeight}px`;
  }, [text]);

  async function submit(event?: FormEvent) {
    event?.preventDefault();
    const content = text;
    if (!content.trim() || streaming || disabled) return;
    setText('');
    if (!(await onSend(content))) setText(content);
  }

  return (
    <form className="composer" onSubmit={submit} aria-label="Send a message">
      <div className="composer-box">
        <label htmlFor="composer-input" className="visually-hidden">
          Message
        </label>
        <textarea
          id="composer-input"
          ref={ref}
          rows={1}
          value={text}
          placeholder="Message your model"
          aria-describedby="composer-hint"
          onChange={(event) => setText(event.target.value)}
          onKeyDown={(event) => {
            if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) {
              event.preventDefault();
              void submit();
            }
          }}
        />
        {streaming ? (
          <button type="button" className="send-button stop" onClick={onStop} aria-label="Stop the answer">
            <svg width="14" height="14" viewBox="0 0 14 14" aria-hidden="true">
              <rect x="2" y="2" width="10" height="10" rx="2" fill="currentColor" />
            </svg>
          </button>
        ) : (
          <button
            type="submit"
            className="send-button"
            disabled={disabled || !text.trim()}
            aria-label="Send the message"
          >
            <svg width="16" height="16" viewBox="0 0 16 16" aria-hidden="true">
              <path
                d="M8 13V3M3.5 7.5L8 3l4.5 4.5"
                fill="none"
                stroke="currentColor"
                strokeWidth="1.8"
                strokeLinecap="round"
                strokeLinejoin="round"
              />
            </svg>
          </button>
        )}
      </div>
      <p id="composer-hint" className="composer-hint">
        Enter sends · Shift+Enter adds a line · Esc stops the answer
      </p>
    </form>
  );
}
