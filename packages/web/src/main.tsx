import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.tsx';
// One stylesheet in this order: a later file may override an earlier one's rules of equal weight.
import './styles/base.css';
import './styles/auth.css';
import './styles/layout.css';
import './styles/sidebar.css';
import './styles/chat.css';
import './styles/markdown.css';
import './styles/quickstart-keys.css';
import './styles/studio.css';
import './styles/notifications.css';
import './styles/admin.css';
import './styles/narrow.css';

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
