// A dataset's conversations, a page at a time, from its train or validation split; turns that are not trained on
// are marked.
import { useState } from 'react';
import { api } from '../../common/api.ts';
import { ErrorMessage } from '../../common/ErrorMessage.tsx';
import { formatCount } from '../../common/format.ts';
import { useLoad } from '../../common/requests.ts';
import type { Dataset } from '../../types.ts';

const PAGE = 10;

export function Preview({ dataset }: { dataset: Dataset }) {
  const [split, setSplit] = useState<'train' | 'validation'>('train');
  const [offset, setOffset] = useState(0);
  const loaded = useLoad(
    () => api.previewDataset(dataset.id, split, offset, PAGE),
    [dataset.id, split, offset],
  );
  const page = loaded.value;
  const total = page?.total ?? 0;
  return (
    <section aria-labelledby="preview-title">
      <div className="section-head">
        <h2 id="preview-title">Preview</h2>
        <label className="inline-field">
          <span>Split</span>
          <select
            value={split}
            onChange={(e) => {
              setSplit(e.target.value as 'train' | 'validation');
              setOffset(0);
            }}
          >
            <option value="train">Train</option>
            <option value="validation">Validation</option>
          </select>
        </label>
      </div>
      <ErrorMessage message={loaded.error} />
      {page && page.total === 0 && <p className="muted">No conversations in this split.</p>}
      <ol className="conversations" start={offset + 1}>
        {page?.conversations.map((conversation, i) => (
          <li key={offset + i} className="conversation" aria-label={`Conversation ${offset + i + 1}`}>
            {conversation.messages.map((message, j) => (
              <div key={j} className={`turn from-${message.role}${message.weight === 0 ? ' masked' : ''}`}>
                <span className="turn-role">
                  {message.role}
                  {message.weight === 0 ? ' (not trained on)' : ''}
                </span>
                <p>{message.content}</p>
              </div>
            ))}
          </li>
        ))}
      </ol>
      {total > PAGE && (
        <nav className="pager" aria-label="Preview pages">
          <button type="button" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>
            Previous
          </button>
          <span className="muted small">
            {offset + 1}–{Math.min(offset + PAGE, total)} of {formatCount(total)}
          </span>
          <button type="button" disabled={offset + PAGE >= total} onClick={() => setOffset(offset + PAGE)}>
            Next
          </button>
        </nav>
      )}
    </section>
  );
}
