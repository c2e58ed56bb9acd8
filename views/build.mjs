// Build the MCP Apps views into single self-contained HTML files (script and styles inlined) and the test host.
//   node build.mjs            write server/views/*.html and tests/apps_host/host.html
// Each output records a hash of its sources (views/src, views/host, this file, package.json and the
// lockfile), so a test can tell, without Node, that the committed build is out of date.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const repo = dirname(here);

function files(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? files(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

export function sourceHash() {
  const inputs = [...files(join(here, "src")), ...files(join(here, "host")), ...["build.mjs", "package.json", "package-lock.json"].map((f) => join(here, f))]
    .map((path) => relative(here, path).split("\\").join("/"))
    .sort();
  const hash = createHash("sha256");
  for (const path of inputs) {
    hash.update(path + "\0");
    hash.update(readFileSync(join(here, path)));
    hash.update("\0");
  }
  return hash.digest("hex");
}

// zod re-exports every locale it ships (some 300 KB); the views need none but the default English one.
const englishOnly = {
  name: "zod-english-only",
  setup(b) {
    b.onResolve({ filter: /\/locales\/index\.js$/ }, (args) =>
      args.importer.includes("zod") ? { path: join(dirname(args.importer), args.path), namespace: "zod-locales" } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: "zod-locales" }, (args) => ({
      contents: `export { default as en } from ${JSON.stringify(join(dirname(args.path), "en.js"))};`,
      resolveDir: dirname(args.path),
    }));
  },
};

async function bundle(entry) {
  const result = await build({
    entryPoints: [join(here, entry)],
    bundle: true,
    minify: true,
    format: "iife",
    target: "es2022",
    platform: "browser",
    write: false,
    legalComments: "none",
    logLevel: "warning",
    plugins: [englishOnly],
  });
  // A literal "</script" inside the bundle would end the inline script early.
  return result.outputFiles[0].text.replaceAll("</script", "<\\/script");
}

const template = readFileSync(join(here, "src", "view.html"), "utf8");
const style = readFileSync(join(here, "src", "styles.css"), "utf8");
const hash = sourceHash();

function page(title, script) {
  // Replacement functions: a "$" in the bundle must not be read as a replacement pattern.
  return template
    .replace("%SOURCE_HASH%", () => hash)
    .replace("%TITLE%", () => title)
    .replace("%STYLE%", () => style)
    .replace("%SCRIPT%", () => script);
}

mkdirSync(join(repo, "server", "views"), { recursive: true });
for (const view of ["network", "author", "trend"]) {
  const out = join(repo, "server", "views", `${view}.html`);
  writeFileSync(out, page(`scholar-catalog ${view} view`, await bundle(`src/${view}.js`)));
  console.log(`${relative(repo, out)}: ${readFileSync(out).length.toLocaleString("en-US")} bytes`);
}
mkdirSync(join(repo, "tests", "apps_host"), { recursive: true });
const host = join(repo, "tests", "apps_host", "host.html");
writeFileSync(host, page("scholar-catalog test host", await bundle("host/host.js")));
console.log(`${relative(repo, host)}: ${readFileSync(host).length.toLocaleString("en-US")} bytes`);
console.log(`sources: ${hash}`);
