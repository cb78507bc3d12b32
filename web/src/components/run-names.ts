import { useEffect, useState } from 'preact/hooks';
import { mlflow, type Run } from '../api.js';
import { runName } from './run-info.js';

const MAX_LOOKUPS = 50;

/**
 * The names of the runs versions came from (runs/get each, at most 50 distinct ones); a run that is
 * gone or not readable keeps no name, and its id is shown instead.
 */
export function useRunNames(runIds: (string | undefined)[]): Record<string, string> {
  const ids = [...new Set(runIds.filter((id): id is string => !!id))].slice(0, MAX_LOOKUPS).sort();
  const [names, setNames] = useState<Record<string, string>>({});
  useEffect(() => {
    let live = true;
    void Promise.all(
      ids.map((id) =>
        mlflow<{ run: Run }>('GET', 'runs/get', undefined, { run_id: id }).then(
          (r) => [id, runName(r.run)] as const,
          () => null,
        ),
      ),
    ).then((pairs) => live && setNames(Object.fromEntries(pairs.filter((p) => p !== null))));
    return () => void (live = false);
  }, [ids.join(',')]);
  return names;
}
