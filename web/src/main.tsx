import { render } from 'preact';
import { linkHandler, useRoute } from './router.js';
import { ExperimentsPage } from './pages/experiments.js';
import { RunsPage } from './pages/runs.js';
import { RunPage } from './pages/run.js';
import { ComparePage } from './pages/compare.js';
import { SweepPage } from './pages/sweep.js';
import './style.css';

function App() {
  const route = useRoute();
  const [, page, id] = route.path.split('/');
  let body;
  if (page === 'runs') body = <RunsPage query={route.query} />;
  else if (page === 'run' && id) body = <RunPage runId={decodeURIComponent(id)} query={route.query} />;
  else if (page === 'compare') body = <ComparePage query={route.query} />;
  else if (page === 'sweeps' && id) body = <SweepPage sweepId={decodeURIComponent(id)} query={route.query} />;
  else body = <ExperimentsPage query={route.query} />;
  return (
    <div class="app">
      <header class="top">
        <a href="/" onClick={linkHandler} class="brand">
          lablog
        </a>
        <nav>
          <a href="/" onClick={linkHandler}>
            Experiments
          </a>
        </nav>
      </header>
      <main>{body}</main>
    </div>
  );
}

render(<App />, document.getElementById('app')!);
