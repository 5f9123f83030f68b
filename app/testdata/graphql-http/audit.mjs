// Runs every graphql-http server audit against GRAPHQL_URL, sending the Authorization header
// of GRAPHQL_TOKEN with each request, and prints the results as one JSON array.
import { serverAudits } from 'graphql-http';

const url = process.env.GRAPHQL_URL;
const token = process.env.GRAPHQL_TOKEN;
if (!url || !token) {
  console.error('set GRAPHQL_URL and GRAPHQL_TOKEN');
  process.exit(2);
}

const fetchFn = (input, init = {}) => {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${token}`);
  return fetch(input, { ...init, headers });
};

const results = [];
for (const audit of serverAudits({ url, fetchFn })) {
  const result = await audit.fn();
  let body;
  if (result.status !== 'ok' && result.response) {
    body = await result.response.text().catch(() => undefined);
  }
  results.push({
    id: result.id,
    name: result.name,
    status: result.status,
    reason: result.reason,
    httpStatus: result.response?.status,
    body,
  });
}
console.log(JSON.stringify(results));
