// The GraphiQL page of custodia. Everything it needs is bundled (build.mjs) and served by the
// binary: no CDN, so it works on closed agency networks.
//
// The documentation follows the role: the schema is introspected with the Authorization header
// of the header editor, and a changed Authorization header makes a new fetcher, which GraphiQL
// answers by introspecting again (the server shows each role only its own schema).
// In development the server also offers demo tokens, and a picker fills the header with one.
import { GraphiQL } from 'graphiql';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { createRoot } from 'react-dom/client';
import 'graphiql/style.css';
import './custodia.css';

/** @type {{endpoint: string, devSignIn: string, persistHeaders: boolean}} */
const config = JSON.parse(document.getElementById('custodia-config').textContent);

const introspectionName = 'IntrospectionQuery';

const defaultQuery = `# Welcome to custodia. Set the Authorization header below
# ("Bearer <token>"); the documentation shows what your role may read.
query Me {
  me {
    subject
    name
    role
    agency
    allowedPurposes
  }
}
`;

/**
 * The Authorization value of a header editor's text: '' when there is none, null when the text
 * is not (yet) valid JSON — then the current schema stays.
 */
function authorizationOf(text) {
  let headers;
  try {
    headers = JSON.parse(text || '{}');
  } catch {
    return null;
  }
  if (headers === null || typeof headers !== 'object') return null;
  for (const [name, value] of Object.entries(headers)) {
    // "Bearer " without a token (the default header) counts as none.
    if (name.toLowerCase() === 'authorization') return /^\s*bearer\s*$/i.test(String(value)) ? '' : String(value);
  }
  return '';
}

/**
 * A fetcher bound to one Authorization value. Operations are sent with the header editor's
 * headers; the introspection that feeds the documentation always uses the bound value, so the
 * schema shown is the schema of that header's role.
 */
function makeFetcher(authorization) {
  return async (params, opts) => {
    const headers = { ...(opts && opts.headers) };
    if (params.operationName === introspectionName) {
      for (const name of Object.keys(headers)) {
        if (name.toLowerCase() === 'authorization') delete headers[name];
      }
      if (authorization) headers.Authorization = authorization;
    }
    const response = await fetch(config.endpoint, {
      method: 'POST',
      credentials: 'omit',
      headers: {
        'Content-Type': 'application/json',
        Accept: 'application/graphql-response+json, application/json',
        ...headers,
      },
      body: JSON.stringify(params),
    });
    const text = await response.text();
    try {
      return JSON.parse(text);
    } catch {
      return { errors: [{ message: `HTTP ${response.status}: ${text.slice(0, 300)}` }] };
    }
  };
}

/**
 * The development-only sign-in picker: demo officials and their tokens, minted by the server.
 * It shows the official whose token is in the header, or none when the header was edited.
 */
function SignIn({ authorization, onSignIn }) {
  const [officials, setOfficials] = useState([]);
  const [error, setError] = useState('');
  useEffect(() => {
    fetch(config.devSignIn, { credentials: 'omit' })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`HTTP ${r.status}`))))
      .then((body) => setOfficials(body.officials))
      .catch((e) => setError(`demo officials unavailable: ${e.message}`));
  }, []);
  const selected = officials.find((o) => `Bearer ${o.token}` === authorization)?.role ?? '';
  const choose = (event) => {
    const official = officials.find((o) => o.role === event.target.value);
    if (official) onSignIn(official);
  };
  return (
    <div className="custodia-signin">
      <label>
        Sign in as a demo official <em>(development only)</em>{' '}
        <select data-testid="sign-in" value={selected} onChange={choose}>
          <option value="" disabled>
            choose a role…
          </option>
          {officials.map((o) => (
            <option key={o.role} value={o.role}>
              {o.role} — {o.name} ({o.subject})
            </option>
          ))}
        </select>
      </label>
      {error && <span className="custodia-error">{error}</span>}
    </div>
  );
}

function initialAuthorization() {
  // In development the header editor's content survives a reload (persisted by GraphiQL); the
  // first introspection must use it, before the editor reports its content.
  try {
    const state = JSON.parse(localStorage.getItem('graphiql:tabState') || 'null');
    const tab = state && state.tabs && state.tabs[state.activeTabIndex];
    return (tab && authorizationOf(tab.headers)) || '';
  } catch {
    return '';
  }
}

function App() {
  const [authorization, setAuthorization] = useState(config.persistHeaders ? initialAuthorization : '');
  const [headers, setHeaders] = useState(undefined);
  const timer = useRef(undefined);
  const fetcher = useMemo(() => makeFetcher(authorization), [authorization]);
  const onEditHeaders = useCallback((text) => {
    clearTimeout(timer.current);
    timer.current = setTimeout(() => {
      const value = authorizationOf(text);
      if (value !== null) setAuthorization(value);
    }, 300);
  }, []);
  const signIn = useCallback((official) => {
    const value = `Bearer ${official.token}`;
    setHeaders(JSON.stringify({ Authorization: value }, null, 2));
    setAuthorization(value);
  }, []);
  return (
    <>
      {config.devSignIn && <SignIn authorization={authorization} onSignIn={signIn} />}
      <GraphiQL
        fetcher={fetcher}
        // Without a token there is nothing to introspect (null: GraphiQL does not try).
        schema={authorization ? undefined : null}
        headers={headers}
        onEditHeaders={onEditHeaders}
        defaultQuery={defaultQuery}
        defaultHeaders={'{\n  "Authorization": "Bearer "\n}'}
        defaultEditorToolsVisibility="headers"
        isHeadersEditorEnabled
        shouldPersistHeaders={config.persistHeaders}
        showPersistHeadersSettings={config.persistHeaders}
      >
        <GraphiQL.Logo>custodia</GraphiQL.Logo>
      </GraphiQL>
    </>
  );
}

createRoot(document.getElementById('custodia')).render(<App />);
