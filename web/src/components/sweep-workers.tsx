import type { Trial } from './sweep-api.js';
import { workerCounts } from './sweep-model.js';

/** Per worker label: how many of its trials are running, completed, stopped early and failed. */
export function WorkersTable(props: { trials: Trial[] }) {
  const rows = workerCounts(props.trials);
  if (rows.length === 0) return <div class="muted">No worker has asked for a trial yet.</div>;
  return (
    <table class="plain sweep-workers">
      <thead>
        <tr>
          <th>worker</th>
          <th class="num">running</th>
          <th class="num">completed</th>
          <th class="num">stopped</th>
          <th class="num">failed</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.worker} data-worker={r.worker}>
            <td>{r.worker}</td>
            <td class="num" data-count="RUNNING">{r.RUNNING}</td>
            <td class="num" data-count="COMPLETED">{r.COMPLETED}</td>
            <td class="num" data-count="STOPPED">{r.STOPPED}</td>
            <td class="num" data-count="FAILED">{r.FAILED}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
