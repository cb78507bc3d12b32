import { useEffect, useState } from 'preact/hooks';

/**
 * `read()` of a module's state, rendered again whenever the module calls its `listeners`. The
 * subscription is made in an effect, which runs after the first paint: a change in between (a
 * keystroke into a field that sets the URL, an answer that arrives) called no listener of this
 * component, so the effect compares and catches up instead of leaving the page on the old state.
 */
export function useSubscription<T>(listeners: Set<() => void>, read: () => T): T {
  const value = read();
  const [, tick] = useState(0);
  useEffect(() => {
    const l = () => tick((n) => n + 1);
    listeners.add(l);
    if (!Object.is(read(), value)) l();
    return () => void listeners.delete(l);
  }, []);
  return value;
}
