import { useEffect, useState } from 'preact/hooks';

/** Where the server's parse error points: "... at position N ..." (0-based), or null. */
export function errorPosition(message: string): number | null {
  const m = /at position (\d+)/.exec(message);
  return m ? Number(m[1]) : null;
}

/**
 * The filter box: MLflow's filter language (plus OR), sent to runs/search on Enter. A parse error from
 * the server is shown under the box with a caret under the position it names (the input is monospace,
 * so character N sits at N ch).
 */
export function FilterBox({ value, error, onApply }: { value: string; error: string | null; onApply: (v: string) => void }) {
  const [text, setText] = useState(value);
  useEffect(() => setText(value), [value]);
  const pos = error ? errorPosition(error) : null;
  return (
    <div class="filter-box">
      <input
        class={error ? 'bad' : ''}
        name="filter"
        placeholder="params.optimizer = 'adam' OR metrics.acc > 0.9   (Enter to apply)"
        value={text}
        spellcheck={false}
        onInput={(e) => setText((e.target as HTMLInputElement).value)}
        onKeyDown={(e) => {
          if (e.key === 'Enter') onApply(text.trim());
        }}
      />
      {error && pos !== null && value === text && <pre class="caret" data-pos={pos}>{`${' '.repeat(pos)}^`}</pre>}
      {error && <div class="filter-err" role="alert">{error}</div>}
    </div>
  );
}
