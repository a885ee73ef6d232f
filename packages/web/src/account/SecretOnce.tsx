// A secret the server shows once (an API key, a webhook's signing secret): selected on arrival, with a copy button.
import { useEffect, useRef, useState, type ReactNode } from 'react';
import { copyText } from '../common/clipboard.ts';

export function SecretOnce(props: {
  id: string;
  label: string;
  secret: string;
  children: ReactNode;
  onError(message: string): void;
}) {
  const [copied, setCopied] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => {
    setCopied(false);
    input.current?.select();
  }, [props.secret]);
  return (
    <div className="secret-card" role="status">
      <p>
        <strong>{props.children}</strong> It is shown only once.
      </p>
      <div className="secret-row">
        <label className="visually-hidden" htmlFor={props.id}>
          {props.label}
        </label>
        <input id={props.id} ref={input} readOnly value={props.secret} onFocus={(e) => e.target.select()} />
        <button
          type="button"
          onClick={() =>
            copyText(props.secret).then(
              () => setCopied(true),
              (e: Error) => props.onError(e.message),
            )
          }
        >
          {copied ? 'Copied' : 'Copy'}
        </button>
      </div>
    </div>
  );
}
