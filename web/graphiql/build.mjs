// Builds the GraphiQL page's assets into graphiql/dist (committed; embedded in the binary with
// go:embed, see web.go). Reproducible: the same package-lock.json and sources give byte-identical
// output, which CI checks (.ci/run rebuilds and fails on any difference).
//
//   cd web && npm ci && node graphiql/build.mjs
import * as esbuild from 'esbuild';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { rmSync } from 'node:fs';

const here = dirname(fileURLToPath(import.meta.url));
const outdir = join(here, 'dist');
rmSync(outdir, { recursive: true, force: true });

await esbuild.build({
  absWorkingDir: join(here, '..'),
  entryPoints: { graphiql: 'graphiql/src/app.jsx' },
  outdir: 'graphiql/dist',
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2020'],
  jsx: 'automatic',
  define: { 'process.env.NODE_ENV': '"production"' },
  // Licences of the bundled packages go to graphiql.LEGAL.txt next to the bundle.
  legalComments: 'external',
  charset: 'utf8',
  logLevel: 'info',
});
