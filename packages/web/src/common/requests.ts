// The two ways a page talks to the server: what it shows (useLoad) and what the user asks it to do (useAction).
import {
  useCallback,
  useEffect,
  useState,
  type DependencyList,
  type Dispatch,
  type SetStateAction,
} from 'react';

interface Loaded<T> {
  /** The latest answer; null until the first arrives. A failed reload keeps the previous one. */
  value: T | null;
  /** For updates that arrive another way (a live stream, an action's answer). */
  setValue: Dispatch<SetStateAction<T | null>>;
  /** The last load's failure, cleared by the next success. */
  error: string | null;
  /** Loads again (after a change, or on a timer). */
  reload: () => void;
}

/** Loads `load()` on mount, whenever `deps` change and on `reload()`; an answer that arrives after a newer load
 * has started is dropped. */
export function useLoad<T>(load: () => Promise<T>, deps: DependencyList): Loaded<T> {
  const [value, setValue] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [version, setVersion] = useState(0);
  useEffect(() => {
    let current = true;
    load().then(
      (result) => {
        if (!current) return;
        setValue(result);
        setError(null);
      },
      (e: Error) => current && setError(e.message),
    );
    return () => {
      current = false;
    };
    // `load` is a new closure each render; `deps` say when it asks for something else.
  }, [...deps, version]);
  const reload = useCallback(() => setVersion((v) => v + 1), []);
  return { value, setValue, error, reload };
}

/** Runs what the user asked for (a submit, a delete, a cancel): `busy` while it runs, and its failure's message in
 * `error` until the next run. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = useCallback(async (action: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, setError, run };
}
