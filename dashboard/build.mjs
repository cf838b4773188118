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
import { createHash } from 'node:crypto';
import { deflateSync, gzipSync } from 'node:zlib';

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
// ---- the installable web app (CONTRACT §9) ----

// The icon, our own drawing: a ring and a dot (a watch kept) on the
// dashboard's blue, inside the middle 80 % a maskable icon keeps.
const ICON_BG = '#0b5cad';
const ICON_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 512 512">' +
  `<rect width="512" height="512" fill="${ICON_BG}"/>` +
  '<circle cx="256" cy="256" r="150" fill="none" stroke="#fff" stroke-width="44"/>' +
  '<circle cx="256" cy="256" r="56" fill="#fff"/></svg>\n';

// The same drawing as a PNG of size×size (RGBA, antialiased by 4×4
// supersampling), encoded here with zlib: no image tool, nothing fetched.
function iconPng(size) {
  const px = (x, y) => {
    // In the 512 grid: white inside the ring (r 128..172) or the dot (r < 56).
    const d = Math.hypot(x - 256, y - 256);
    return (d >= 128 && d <= 172) || d <= 56;
  };
  const bg = [0x0b, 0x5c, 0xad];
  const raw = Buffer.alloc(size * (size * 4 + 1));
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0; // filter: none
    for (let x = 0; x < size; x++) {
      let white = 0;
      for (let sy = 0; sy < 4; sy++)
        for (let sx = 0; sx < 4; sx++) white += px(((x + (sx + 0.5) / 4) * 512) / size, ((y + (sy + 0.5) / 4) * 512) / size) ? 1 : 0;
      const a = white / 16;
      const o = y * (size * 4 + 1) + 1 + x * 4;
      for (let c = 0; c < 3; c++) raw[o + c] = Math.round(bg[c] * (1 - a) + 255 * a);
      raw[o + 3] = 255;
    }
  }
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, 'ascii');
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(Buffer.concat([head.subarray(4), data])), 0);
    return Buffer.concat([head, data, sum]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr.set([8, 6, 0, 0, 0], 8); // 8 bits, RGBA, deflate, no filter method, no interlace
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

// The manifest (start_url: the entry view), the icons, and the service
// worker with this build's files and a version made of them: a new build
// is a new worker, whose activation deletes the old cache.
async function webApp(assets) {
  fs.writeFileSync(path.join(out, 'icon.svg'), ICON_SVG);
  for (const size of [192, 512]) fs.writeFileSync(path.join(out, `icon-${size}.png`), iconPng(size));
  const manifest = {
    id: '/',
    name: 'pantau — Pusat Komando',
    short_name: 'pantau',
    description: 'Dasbor pusat komando dan input data lapangan',
    lang: 'id',
    start_url: '/#input',
    scope: '/',
    display: 'standalone',
    background_color: '#f4f6f8',
    theme_color: ICON_BG,
    icons: [
      { src: '/icon.svg', sizes: 'any', type: 'image/svg+xml', purpose: 'any' },
      { src: '/icon-192.png', sizes: '192x192', type: 'image/png', purpose: 'any' },
      { src: '/icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'any' },
      { src: '/icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
    ],
  };
  fs.writeFileSync(path.join(out, 'manifest.json'), `${JSON.stringify(manifest, null, 1)}\n`);
  const files = [
    '/',
    ...assets.map((f) => `/assets/${f}`),
    '/favicon.svg',
    '/icon.svg',
    '/icon-192.png',
    '/icon-512.png',
    '/manifest.json',
  ];
  const hash = createHash('sha256');
  for (const f of files) hash.update(`${f}\0`).update(fs.readFileSync(path.join(out, f === '/' ? 'index.html' : f.slice(1))));
  await esbuild.build({
    entryPoints: [path.join(here, 'src/sw.js')],
    bundle: true,
    minify: true,
    format: 'iife',
    target: ['chrome100', 'firefox100', 'safari15'],
    outfile: path.join(out, 'sw.js'),
    define: { __VERSION__: JSON.stringify(hash.digest('hex').slice(0, 16)), __FILES__: JSON.stringify(files) },
    legalComments: 'none',
    logLevel: 'warning',
  });
}

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
  // Which build a page runs (offline_app.js): PANTAU_BUILD names a build
  // apart (the phones test makes a second one to see the worker update).
  define: { __PANTAU_BUILD__: JSON.stringify(process.env.PANTAU_BUILD || 'pantau') },
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
await webApp(files);
let gz = gzipSync(html).length;
for (const f of files) gz += gzipSync(fs.readFileSync(path.join(out, 'assets', f))).length;
console.log(`dashboard: ${out} (${files.join(', ')}; first load ${(gz / 1024).toFixed(1)} KB gzipped)`);
