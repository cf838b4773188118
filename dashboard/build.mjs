// build.mjs — builds the dashboard into OUT (default ../build/dashboard):
// OUT/index.html, which names OUT/assets/app-<hash>.js and app-<hash>.css
// (pantaud serves /assets/ as immutable, index.html as no-cache).
//
// The map outline is made here, not fetched at run time: Indonesia's
// coastline from world-atlas (Natural Earth 1:10m), its points rounded to
// 0.01° (~1 km), repeats dropped, islets under 4 points left out, bundled
// into app.js as a module.
//
// The API reference, docs/openapi.yaml, is converted to OUT/openapi.json
// here too, so that it is installed with the dashboard and pantaud serves it
// at /api/v1/openapi.json without a YAML parser of its own.
import * as esbuild from 'esbuild';
import { feature } from 'topojson-client';
import YAML from 'yaml';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.resolve(process.argv[2] || path.join(here, '../build/dashboard'));

function indonesiaOutline() {
  const topo = JSON.parse(fs.readFileSync(path.join(here, 'node_modules/world-atlas/countries-10m.json'), 'utf8'));
  const countries = feature(topo, topo.objects.countries).features;
  const idn = countries.find((f) => f.properties.name === 'Indonesia');
  if (!idn) throw new Error('world-atlas: no Indonesia');
  const polys = idn.geometry.type === 'MultiPolygon' ? idn.geometry.coordinates : [idn.geometry.coordinates];
  const rings = [];
  for (const poly of polys) {
    const ring = [];
    let last = '';
    for (const [lon, lat] of poly[0]) {
      const p = [Math.round(lon * 100), Math.round(lat * 100)];
      const k = p.join(',');
      if (k !== last) ring.push(p[0], p[1]);
      last = k;
    }
    if (ring.length >= 8) rings.push(ring);
  }
  // Flat arrays of integer hundredths of a degree: lon, lat, lon, lat, …
  return `export default ${JSON.stringify(rings)};\n`;
}

const outline = {
  name: 'outline',
  setup(build) {
    build.onResolve({ filter: /^pantau:outline$/ }, () => ({ path: 'outline', namespace: 'outline' }));
    build.onLoad({ filter: /.*/, namespace: 'outline' }, () => ({ contents: indonesiaOutline(), loader: 'js' }));
  },
};

fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(path.join(out, 'assets'), { recursive: true });
const result = await esbuild.build({
  entryPoints: { app: path.join(here, 'src/main.js') },
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['chrome100', 'firefox100', 'safari15'],
  outdir: path.join(out, 'assets'),
  entryNames: '[name]-[hash]',
  metafile: true,
  legalComments: 'none',
  plugins: [outline],
  logLevel: 'warning',
});
const files = Object.keys(result.metafile.outputs).map((f) => path.basename(f));
const js = files.find((f) => f.endsWith('.js'));
const css = files.find((f) => f.endsWith('.css'));
let html = fs.readFileSync(path.join(here, 'src/index.html'), 'utf8');
html = html.replace('%CSS%', `/assets/${css}`).replace('%JS%', `/assets/${js}`);
fs.writeFileSync(path.join(out, 'index.html'), html);
// A duplicate key or any other YAML error fails the build (prettyErrors: line and column).
const api = YAML.parse(fs.readFileSync(path.join(here, '../docs/openapi.yaml'), 'utf8'), { uniqueKeys: true, prettyErrors: true });
fs.writeFileSync(path.join(out, 'openapi.json'), `${JSON.stringify(api)}\n`);
// The tab's icon, from the same origin: a Content-Security-Policy of
// default-src 'self' (pantaud's) refuses a data: URL.
fs.writeFileSync(
  path.join(out, 'favicon.svg'),
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><circle cx="8" cy="8" r="7" fill="#0b5cad"/></svg>\n',
);
let gz = gzipSync(html).length;
for (const f of files) gz += gzipSync(fs.readFileSync(path.join(out, 'assets', f))).length;
console.log(`dashboard: ${out} (${files.join(', ')}; first load ${(gz / 1024).toFixed(1)} KB gzipped)`);
