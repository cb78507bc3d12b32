import type { Page, Request } from 'playwright-core';

/**
 * Records, in order, a page's runs/get requests for one run and its metrics/sampled reads of one key.
 * A live chart follows the page's poll: each runs/get of the run is followed by the chart's re-read
 * before the run is asked again. A chart that asked runs/get itself would show up as a runs/get with
 * no re-read before the next one (`unfollowed`).
 */
export function recordLiveReads(page: Page, runId: string, key: string) {
  const events: ('get' | 'read')[] = [];
  const onRequest = (req: Request) => {
    const u = new URL(req.url());
    if (u.pathname === '/api/2.0/mlflow/runs/get' && u.searchParams.get('run_id') === runId) events.push('get');
    else if (u.pathname === '/api/2.0/lablog/metrics/sampled' && u.searchParams.getAll('run_ids').includes(runId) && u.searchParams.getAll('keys').includes(key)) events.push('read');
  };
  page.on('request', onRequest);
  return {
    /** Stops recording; the counts of what was seen. */
    stop() {
      page.off('request', onRequest);
      const unfollowed = events.filter((e, i) => e === 'get' && events[i + 1] === 'get').length;
      return { gets: events.filter((e) => e === 'get').length, reads: events.filter((e) => e === 'read').length, unfollowed };
    },
  };
}
