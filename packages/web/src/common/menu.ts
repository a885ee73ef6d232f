import type { KeyboardEvent } from 'react';

/** Keydown handler for a <details> menu: Esc closes it, when open, and puts the focus back on its summary. */
export function closeMenuOnEscape(event: KeyboardEvent<HTMLDetailsElement>): void {
  if (event.key !== 'Escape' || !event.currentTarget.open) return;
  event.preventDefault();
  event.currentTarget.open = false;
  event.currentTarget.querySelector('summary')?.focus();
}
