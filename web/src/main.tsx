import { render } from 'preact';
import { useEffect } from 'preact/hooks';
import { linkHandler, useRoute } from './router.js';
import { ExperimentsPage } from './pages/experiments.js';
import { RunsPage } from './pages/runs.js';
import { RunPage } from './pages/run.js';
import { ComparePage } from './pages/compare.js';
import { SweepPage } from './pages/sweep.js';
import { LoginPage } from './pages/login.js';
import { TokensPage } from './pages/tokens.js';
import { UsersPage } from './pages/users.js';
import { AuditPage } from './pages/audit.js';
import { ModelsPage } from './pages/models.js';
import { ModelPage } from './pages/model.js';
import { ModelVersionPage } from './pages/model-version.js';
import { UserMenu } from './components/user-menu.js';
import { loadMe, useSession, type Me } from './session.js';
import './style.css';

function Page({ me }: { me: Me }) {
  const route = useRoute();
  const [, page, id, sub, version] = route.path.split('/');
  if (page === 'runs') return <RunsPage query={route.query} />;
  if (page === 'run' && id) return <RunPage runId={decodeURIComponent(id)} query={route.query} />;
  if (page === 'compare') return <ComparePage query={route.query} />;
  if (page === 'sweeps' && id) return <SweepPage sweepId={decodeURIComponent(id)} query={route.query} />;
  if (page === 'models' && id && sub === 'versions' && version) return <ModelVersionPage name={decodeURIComponent(id)} version={decodeURIComponent(version)} />;
  if (page === 'models' && id) return <ModelPage name={decodeURIComponent(id)} />;
  if (page === 'models') return <ModelsPage query={route.query} />;
  if (route.path === '/settings/tokens') return <TokensPage me={me} query={route.query} />;
  if (route.path === '/admin/users') return <UsersPage me={me} />;
  if (route.path === '/admin/audit') return <AuditPage query={route.query} />;
  return <ExperimentsPage query={route.query} />;
}

function App() {
  const session = useSession();
  useEffect(() => {
    // Until the server answers who is asking, nothing is shown (a network error: try again).
    const load = (): void => void loadMe().catch(() => setTimeout(load, 2000));
    load();
  }, []);
  if (session.state === 'anonymous') return <LoginPage />;
  // While `me` is on its way the header is already in place (nothing below it moves when it answers).
  const me = session.state === 'in' ? session.me : null;
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
          <a href="/models" onClick={linkHandler}>
            Models
          </a>
        </nav>
        {me && <UserMenu me={me} />}
      </header>
      <main>{me && <Page me={me} />}</main>
    </div>
  );
}

render(<App />, document.getElementById('app')!);
