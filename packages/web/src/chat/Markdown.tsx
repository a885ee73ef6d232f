// Shows Markdown through the sanitizing renderer (markdown.ts) and wires the code blocks' copy buttons by event
// delegation, since the rendered HTML carries no handlers.
import { memo, useMemo, type MouseEvent } from 'react';
import { copyText } from '../common/clipboard.ts';
import { createMarkdownRenderer } from './markdown.ts';

const configuredOrigins = String(import.meta.env.VITE_IMAGE_ORIGINS ?? '')
  .split(',')
  .filter(Boolean);
const render = createMarkdownRenderer({ imageOrigins: [window.location.origin, ...configuredOrigins] });

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
