// Builds the studio's assets into app/web/static/dist: hashed names (served as immutable), a
// manifest the page reads to name them, and a gzip copy of each script and stylesheet.
import { build } from "esbuild";
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const here = dirname(fileURLToPath(import.meta.url));
const outdir = resolve(here, "..", "app", "web", "static", "dist");

rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });

const result = await build({
  entryPoints: { main: join(here, "src", "main.js") },
  bundle: true,
  splitting: true, // the terminal and most language modes load on first use
  format: "esm",
  target: ["es2020"],
  minify: true,
  sourcemap: false,
  legalComments: "linked",
  outdir,
  entryNames: "[name]-[hash]",
  chunkNames: "chunks/[name]-[hash]",
  assetNames: "assets/[name]-[hash]",
  metafile: true,
  absWorkingDir: here,
  logLevel: "warning",
});

const manifest = {};
for (const [file, meta] of Object.entries(result.metafile.outputs)) {
  if (meta.entryPoint && resolve(meta.entryPoint) === join(here, "src", "main.js") && file.endsWith(".js")) {
    manifest["main.js"] = relative(outdir, resolve(file));
    if (meta.cssBundle) manifest["main.css"] = relative(outdir, resolve(meta.cssBundle));
  }
}
if (!manifest["main.js"]) throw new Error("no entry script in the build output");

const walk = (dir) => readdirSync(dir).flatMap((name) => {
  const path = join(dir, name);
  return statSync(path).isDirectory() ? walk(path) : [path];
});
const gzipped = {};
for (const path of walk(outdir)) {
  if (!/\.(js|css)$/.test(path)) continue;
  const gz = gzipSync(readFileSync(path), { level: 9 });
  writeFileSync(path + ".gz", gz);
  gzipped[resolve(path)] = gz.length;
}
// the first load: the entry script and every chunk it imports statically (not the lazy ones)
const seen = new Set();
const visit = (file) => {
  const path = resolve(file);
  if (seen.has(path)) return;
  seen.add(path);
  for (const imp of result.metafile.outputs[relative(here, path)]?.imports ?? []) {
    if (imp.kind === "import-statement") visit(imp.path);
  }
};
visit(join(outdir, manifest["main.js"]));
const firstLoad = [...seen].reduce((sum, path) => sum + (gzipped[path] ?? 0), 0);
manifest.first_load_js_gzip_bytes = firstLoad;
writeFileSync(join(outdir, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
console.log(`studio assets: ${manifest["main.js"]}, first load ${(firstLoad / 1024).toFixed(1)} KiB of gzipped JS`);
