// Shows Markdown through the sanitizing renderer (markdown.ts) and wires the code blocks' copy buttons by event
// delegation, since the rendered HTML carries no handlers.
import { memo, useMemo, type MouseEvent } from 'react';
import { createMarkdownRenderer } from './markdown.ts';

const configuredOrigins = String(import.meta.env.VITE_IMAGE_ORIGINS ?? '')
  .split(',')
  .filter(Boolean);
const render = createMarkdownRenderer({ imageOrigins: [window.location.origin, ...configuredOrigins] });

/** Copies text to the clipboard; the Clipboard API exists only in secure contexts (https, localhost), so a
 * plain-http deployment falls back to a selected off-screen textarea. */
export async function copyText(text: string): Promise<void> {
  if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.className = 'offscreen';
  document.body.append(area);
  area.select();
  try {
    if (!document.execCommand('copy')) throw new Error('The browser refused to copy.');
  } finally {
    area.remove();
  }
}

function onCopyClick(event: MouseEvent<HTMLDivElement>) {
  const button = (event.target as Element).closest('button.copy-code');
  const code = button?.closest('.code-block')?.querySelector('code');
  if (!button || !code) return;
  copyText(code.textContent ?? '').then(
    () => {
      button.textContent = 'Copied';
      setTimeout(() => (button.textContent = 'Copy'), 1500);
    },
    () => (button.textContent = 'Copy failed'),
  );
}

export const Markdown = memo(function Markdown({ source }: { source: string }) {
  const html = useMemo(() => render(source), [source]);
  return <div className="markdown" onClick={onCopyClick} dangerouslySetInnerHTML={{ __html: html }} />;
});
