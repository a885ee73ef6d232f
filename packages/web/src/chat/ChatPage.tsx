// One chat: its messages, the streamed answer, and the controls around them (model, settings, export, stop,
// regenerate, edit and resend). With no chat id it is a new chat, created on the first message; with no model at
// all it offers the quickstart training instead.
import { useCallback, useEffect, useRef, useState } from 'react';
import { api } from '../common/api.ts';
import { useApp } from '../common/app-state.tsx';
import { ErrorMessage } from '../common/ErrorMessage.tsx';
import { titleFrom } from '../common/format.ts';
import { closeMenuOnEscape } from '../common/menu.ts';
import { chatPath, navigate } from '../common/router.tsx';
import { Quickstart } from '../studio/Quickstart.tsx';
import type { Chat, ChatSettings, ChatStreamEvent, Message } from '../types.ts';
import { ChatSettingsPanel, defaultSettings } from './ChatSettingsPanel.tsx';
import { Composer } from './Composer.tsx';
import { MessageView } from './MessageView.tsx';

const INJECTION_NOTICE =
  'Your message reads like instructions aimed at the model (a prompt injection). It was marked untrusted, and the admins can review it.';

/** Replaces the message with the same id, or the placeholder `replaceId`, or appends. */
function upsert(messages: Message[], message: Message, replaceId?: string): Message[] {
  const index = messages.findIndex((m) => m.id === message.id || m.id === replaceId);
  if (index < 0) return [...messages, message];
  return messages.map((m, i) => (i === index ? message : m));
}

function localMessage(role: Message['role'], content: string, kind: 'pending' | 'partial'): Message {
  return {
    id: `${kind}-${Date.now()}`,
    role,
    content,
    model: null,
    promptTokens: null,
    completionTokens: null,
    createdAt: new Date().toISOString(),
  };
}

export function ChatPage({ chatId }: { chatId: string | null }) {
  const app = useApp();
  const [chat, setChat] = useState<Chat | null>(null);
  const [messages, setMessages] = useState<Message[]>([]);
  const [draftModelId, setDraftModelId] = useState<string | null>(null);
  const [draftSettings, setDraftSettings] = useState<ChatSettings | null>(null);
  const [streamText, setStreamText] = useState<string | null>(null);
  const [status, setStatus] = useState('');
  const [error, setError] = useState<string | null>(null);
  /** What the safety policy said about the last exchange (an injection warning, a withheld answer). */
  const [notice, setNotice] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [showSettings, setShowSettings] = useState(false);
  const chatRef = useRef<Chat | null>(null);
  const abortRef = useRef<AbortController | null>(null);
  const logRef = useRef<HTMLDivElement>(null);
  const stickToBottom = useRef(true);

  const showChat = useCallback((next: Chat | null) => {
    chatRef.current = next;
    setChat(next);
  }, []);

  useEffect(() => {
    // The chat this page just created is already on screen, streaming its first answer.
    if (chatId !== null && chatId === chatRef.current?.id) return;
    abortRef.current?.abort();
    setStreamText(null);
    setStatus('');
    setError(null);
    setShowSettings(false);
    stickToBottom.current = true;
    if (chatId === null) {
      showChat(null);
      setMessages([]);
      setDraftSettings(null);
      document.getElementById('composer-input')?.focus();
      return;
    }
    let current = true;
    setLoading(true);
    api.chat(chatId).then(
      (result) => {
        if (!current) return;
        showChat(result.chat);
        setMessages(result.messages);
        setLoading(false);
        document.getElementById('composer-input')?.focus();
      },
      (e: Error) => {
        if (!current) return;
        showChat(null);
        setMessages([]);
        setError(e.message);
        setLoading(false);
      },
    );
    return () => {
      current = false;
    };
  }, [chatId, showChat]);

  // Abort a running answer when the page goes away (the server keeps what was generated).
  useEffect(() => () => abortRef.current?.abort(), []);

  useEffect(() => {
    document.title = chat?.title ? `${chat.title} · ownlm` : 'ownlm';
  }, [chat?.title]);

  const streaming = streamText !== null;
  useEffect(() => {
    if (!streaming) return;
    const onKey = (event: KeyboardEvent) => {
      if (event.key === 'Escape' && !event.defaultPrevented) abortRef.current?.abort();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [streaming]);

  useEffect(() => {
    const log = logRef.current;
    if (log && stickToBottom.current) log.scrollTop = log.scrollHeight;
  }, [messages, streamText]);

  /** Starts one answer: resolves false when the server refuses it (nothing changed there), true once it is
   * streaming into the page. `replaceId` is the local placeholder that the saved user message replaces. */
  async function startAnswer(
    open: (signal: AbortSignal) => Promise<AsyncGenerator<ChatStreamEvent>>,
    replaceId?: string,
  ): Promise<boolean> {
    const owner = chatRef.current?.id;
    const controller = new AbortController();
    abortRef.current = controller;
    setError(null);
    setNotice(null);
    setStreamText('');
    setStatus('Generating an answer…');
    stickToBottom.current = true;
    let events: AsyncGenerator<ChatStreamEvent>;
    try {
      events = await open(controller.signal);
    } catch (e) {
      if (abortRef.current === controller) abortRef.current = null;
      if (chatRef.current?.id === owner) {
        setStreamText(null);
        setStatus('');
        if (!controller.signal.aborted) setError((e as Error).message);
      }
      return false;
    }
    void readAnswer(events, controller, owner, replaceId);
    return true;
  }

  async function readAnswer(
    events: AsyncGenerator<ChatStreamEvent>,
    controller: AbortController,
    owner: string | undefined,
    replaceId: string | undefined,
  ) {
    const stillHere = () => chatRef.current?.id === owner;
    let text = '';
    let finished = false;
    let frame = 0;
    try {
      for await (const event of events) {
        if (!stillHere()) break;
        if (event.type === 'message-created') setMessages((m) => upsert(m, event.message, replaceId));
        else if (event.type === 'text-delta') {
          text += event.text;
          // Deltas arrive faster than the screen refreshes; render at most once a frame.
          frame ||= requestAnimationFrame(() => {
            frame = 0;
            setStreamText(text);
          });
        } else if (event.type === 'injection-detected') setNotice(INJECTION_NOTICE);
        else if (event.type === 'message-finished') {
          finished = true;
          setMessages((m) => upsert(m, event.message));
          if (event.notice) setNotice(event.notice);
        } else setError(event.message);
      }
    } catch (e) {
      if (!controller.signal.aborted && stillHere()) setError((e as Error).message);
    } finally {
      cancelAnimationFrame(frame);
      if (abortRef.current === controller) abortRef.current = null;
    }
    if (!stillHere()) return;
    setStreamText(null);
    setStatus(finished ? 'Answer complete.' : controller.signal.aborted ? 'Stopped.' : '');
    if (!finished && owner) {
      // Stopped or cut off: the server saved what it had; show the partial answer now and take the saved chat
      // shortly after, so ids and token counts are the server's.
      if (text) setMessages((m) => [...m, localMessage('assistant', text, 'partial')]);
      setTimeout(() => {
        api.chat(owner).then(
          (result) => {
            if (stillHere() && !abortRef.current) setMessages(result.messages);
          },
          () => {
            // The partial copy on screen stays; the next load of the chat brings the saved one.
          },
        );
      }, 500);
    }
    app.refreshUsage();
    app.refreshChats();
  }

  async function send(content: string): Promise<boolean> {
    let current = chatRef.current;
    if (!current) {
      try {
        current = await api.createChat({
          title: titleFrom(content),
          modelId: draftModelId ?? app.defaultModelId ?? app.models?.[0]?.id ?? null,
          ...(draftSettings ? { settings: draftSettings } : {}),
        });
      } catch (e) {
        setError((e as Error).message);
        return false;
      }
      showChat(current);
      setMessages([]);
      navigate(chatPath(current.id));
      app.refreshChats();
    }
    const chatId = current.id;
    const pending = localMessage('user', content, 'pending');
    setMessages((m) => [...m, pending]);
    const started = await startAnswer((signal) => api.sendMessage(chatId, content, signal), pending.id);
    // Refused: the message was not saved, so it leaves the list and goes back into the box.
    if (!started) setMessages((m) => m.filter((x) => x.id !== pending.id));
    return started;
  }

  /** Reloads the chat after a refused regenerate or edit, which may have changed the list locally. */
  function resync(id: string) {
    api.chat(id).then(
      (result) => chatRef.current?.id === id && setMessages(result.messages),
      (e: Error) => setError(e.message),
    );
  }

  async function regenerate() {
    const current = chatRef.current;
    if (!current || streaming) return;
    setMessages((m) => (m.at(-1)?.role === 'assistant' ? m.slice(0, -1) : m));
    if (!(await startAnswer((signal) => api.regenerate(current.id, signal)))) resync(current.id);
  }

  async function editAndResend(message: Message, content: string) {
    const current = chatRef.current;
    if (!current || streaming) return;
    setMessages((m) => {
      const index = m.findIndex((x) => x.id === message.id);
      return [...m.slice(0, index), { ...message, content }];
    });
    const open = (signal: AbortSignal) => api.editMessage(current.id, message.id, content, signal);
    if (!(await startAnswer(open, message.id))) resync(current.id);
  }

  async function changeModel(modelId: string) {
    const current = chatRef.current;
    if (!current) return setDraftModelId(modelId);
    try {
      showChat(await api.updateChat(current.id, { modelId }));
    } catch (e) {
      setError((e as Error).message);
    }
  }

  async function saveSettings(settings: ChatSettings) {
    const current = chatRef.current;
    if (!current) {
      setDraftSettings(settings);
      setShowSettings(false);
      return;
    }
    try {
      showChat(await api.updateChat(current.id, { settings }));
      setShowSettings(false);
    } catch (e) {
      setError((e as Error).message);
    }
  }

  const models = app.models;
  if (models && models.length === 0) {
    return (
      <Quickstart
        onModelReady={async (modelId) => {
          await app.refreshModels();
          const created = await api.createChat({ title: 'First chat', modelId });
          app.refreshChats();
          navigate(chatPath(created.id));
        }}
      />
    );
  }

  const modelId = chat ? chat.modelId : (draftModelId ?? app.defaultModelId ?? models?.[0]?.id ?? null);
  const settings = chat?.settings ?? draftSettings ?? defaultSettings;
  const lastAssistant = messages.at(-1)?.role === 'assistant' ? messages.at(-1) : undefined;
  const modelNames = new Map(models?.map((m) => [m.id, m.name]));

  return (
    <div className="chat-page">
      <div className="chat-header">
        <h1 className="chat-title" title={chat?.title}>
          {chat ? chat.title || 'Untitled chat' : 'New chat'}
        </h1>
        <div className="chat-controls">
          <label className="visually-hidden" htmlFor="model-picker">
            Model
          </label>
          <select
            id="model-picker"
            value={modelId ?? ''}
            disabled={!models || streaming}
            onChange={(event) => void changeModel(event.target.value)}
          >
            {modelId && !modelNames.has(modelId) && <option value={modelId}>{modelId} (unavailable)</option>}
            {models?.map((model) => (
              <option key={model.id} value={model.id}>
                {model.name}
                {model.version ? ` · ${model.version}` : ''}
              </option>
            ))}
          </select>
          <button
            type="button"
            className="ghost"
            aria-expanded={showSettings}
            aria-controls="chat-settings"
            onClick={() => setShowSettings((s) => !s)}
          >
            Settings
          </button>
          {chat && (
            <details className="menu" onKeyDown={closeMenuOnEscape}>
              <summary className="ghost">Export</summary>
              {/* A chosen format closes the menu; the download itself needs no page change. */}
              <div
                className="menu-items"
                onClick={(event) =>
                  (event.currentTarget.parentElement as HTMLDetailsElement).removeAttribute('open')
                }
              >
                <a href={api.exportUrl(chat.id, 'markdown')} download>
                  Markdown (.md)
                </a>
                <a href={api.exportUrl(chat.id, 'json')} download>
                  JSON
                </a>
              </div>
            </details>
          )}
        </div>
      </div>
      {showSettings && (
        <ChatSettingsPanel
          settings={settings}
          onSave={saveSettings}
          onCancel={() => setShowSettings(false)}
        />
      )}
      <div
        className="messages"
        ref={logRef}
        role="log"
        aria-label="Messages"
        aria-busy={streaming || loading}
        onScroll={(event) => {
          const log = event.currentTarget;
          stickToBottom.current = log.scrollHeight - log.scrollTop - log.clientHeight < 80;
        }}
      >
        <div className="messages-inner">
          {!loading && messages.length === 0 && !streaming && (
            <div className="empty-chat">
              <h2>What should we talk about?</h2>
              <p className="muted">
                Answers come from {modelId ? (modelNames.get(modelId) ?? modelId) : 'your model'}, running on
                this server.
              </p>
            </div>
          )}
          {messages
            .filter((message) => message.role !== 'system')
            .map((message) => (
              <MessageView
                key={message.id}
                message={message}
                modelName={modelNames.get(message.model ?? '') ?? message.model}
                busy={streaming}
                onRegenerate={message === lastAssistant ? () => void regenerate() : undefined}
                onEdit={
                  message.role === 'user' ? (content) => void editAndResend(message, content) : undefined
                }
              />
            ))}
          {streaming && (
            <MessageView
              message={localMessage('assistant', streamText, 'pending')}
              modelName={modelId ? (modelNames.get(modelId) ?? modelId) : null}
              busy
              streaming
            />
          )}
        </div>
      </div>
      {notice && (
        <p role="status" className="chat-notice warning">
          {notice}
        </p>
      )}
      <ErrorMessage message={error} className="chat-error" />
      <p className="visually-hidden" aria-live="polite">
        {status}
      </p>
      <Composer
        streaming={streaming}
        disabled={loading || !models}
        onSend={send}
        onStop={() => abortRef.current?.abort()}
      />
    </div>
  );
}
