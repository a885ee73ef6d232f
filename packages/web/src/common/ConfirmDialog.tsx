// A modal question before an action that cannot be undone, built on <dialog>, which traps focus, closes on Esc and
// returns focus by itself.
import { useEffect, useRef, useState, type ReactNode } from 'react';

interface Question {
  title: string;
  message: string;
  confirmLabel: string;
  onConfirm: () => void;
}

/** Asks about one item at a time: `ask(item)` opens the question `question(item)` (render `dialog` where it
 * belongs); confirming closes it and then runs its `onConfirm`. */
export function useConfirm<T extends object>(
  question: (item: T) => Question,
): {
  ask: (item: T) => void;
  dialog: ReactNode;
} {
  const [item, setItem] = useState<T | null>(null);
  const asked = item && question(item);
  const dialog = asked && (
    <ConfirmDialog
      question={{
        ...asked,
        onConfirm: () => {
          setItem(null);
          asked.onConfirm();
        },
      }}
      onCancel={() => setItem(null)}
    />
  );
  return { ask: setItem, dialog };
}

function ConfirmDialog({ question, onCancel }: { question: Question; onCancel: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
  }, []);
  return (
    <dialog ref={ref} className="dialog" aria-labelledby="confirm-title" onClose={onCancel}>
      <form
        method="dialog"
        onSubmit={(event) => {
          event.preventDefault();
          question.onConfirm();
        }}
      >
        <h2 id="confirm-title">{question.title}</h2>
        <p>{question.message}</p>
        <div className="dialog-actions">
          <button type="button" onClick={onCancel} autoFocus>
            Cancel
          </button>
          <button type="submit" className="danger">
            {question.confirmLabel}
          </button>
        </div>
      </form>
    </dialog>
  );
}
