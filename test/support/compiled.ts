// The source compiled to JavaScript once per version of it, for the test files that npm test runs
// (run-tests.ts) and for the tests' child processes (the CLI, a gateway fixture): a process over tsx
// spends about twice the CPU time of one over plain JavaScript before its first line runs (tsx
// resolves and loads each of its ~600 modules through a hooks thread), and the suite starts such
// processes hundreds of times. esbuild does per file what tsx does on the fly, so the same code
// runs; the directory is named for a hash of src/ and test/, so an edited file is compiled again
// and the tests never run a stale build (nor depend on `npm run build`).
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { buildSync, version as esbuildVersion, transformSync } from "esbuild";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
// Under node_modules, so that the compiled modules find the packages they import.
const CACHE = path.join(ROOT, "node_modules", ".cache", "airlock-test-cli");
const ENTRY = `import { main } from "./src/cli/main.js";\n\nprocess.exitCode = await main(process.argv);\n`;
const DAY_MS = 24 * 3600_000;

/** The .ts files of src/ and test/. */
function sources(): string[] {
  return ["src", "test"].flatMap((dir) =>
    readdirSync(path.join(ROOT, dir), { recursive: true, encoding: "utf8" })
      .filter((f) => f.endsWith(".ts"))
      .map((f) => path.join(dir, f))
      .sort(),
  );
}

function compile(files: string[], into: string): void {
  const src = files.filter((f) => f.startsWith(`src${path.sep}`));
  buildSync({
    entryPoints: src.map((f) => path.join(ROOT, f)),
    outbase: ROOT,
    outdir: into,
    format: "esm",
    platform: "node",
    target: "node20.11",
    logLevel: "error",
  });
  // Tests and their helpers find their fixtures and oracles next to their source: their
  // import.meta.url (dirname, filename) stays the source file's.
  for (const f of files.filter((x) => !src.includes(x))) {
    const file = path.join(ROOT, f);
    const out = path.join(into, f.replace(/\.ts$/, ".js"));
    mkdirSync(path.dirname(out), { recursive: true });
    const define = {
      "import.meta.url": JSON.stringify(pathToFileURL(file).href),
      "import.meta.dirname": JSON.stringify(path.dirname(file)),
      "import.meta.filename": JSON.stringify(file),
    };
    const code = readFileSync(file, "utf8");
    writeFileSync(
      out,
      transformSync(code, {
        loader: "ts",
        format: "esm",
        target: "node20.11",
        sourcefile: file,
        define,
      }).code,
    );
  }
  // node_modules is no package scope: without this, Node would take the files for CommonJS.
  writeFileSync(path.join(into, "package.json"), '{ "type": "module" }\n');
  writeFileSync(path.join(into, "airlock.js"), ENTRY);
}

let dir: string | undefined;

function compiledDir(): string {
  if (dir) return dir;
  const files = sources();
  // The tree's own path too: a compiled test keeps its source's import.meta.url, so two checkouts
  // sharing node_modules (worktrees) must not share a build, or one's tests read the other's files.
  const hash = createHash("sha256").update(`esbuild ${esbuildVersion}\n${ROOT}\n${ENTRY}`);
  for (const f of files) hash.update(`${f}\0${readFileSync(path.join(ROOT, f), "utf8")}\0`);
  dir = path.join(CACHE, hash.digest("hex").slice(0, 16));
  if (existsSync(path.join(dir, "airlock.js"))) return dir;

  // Another test process may be compiling the same source: each compiles into a directory of its
  // own and the first rename wins.
  mkdirSync(CACHE, { recursive: true });
  const tmp = mkdtempSync(path.join(CACHE, "tmp-"));
  compile(files, tmp);
  try {
    renameSync(tmp, dir);
  } catch {
    rmSync(tmp, { recursive: true, force: true }); // compiled meanwhile by another process
  }
  // Builds of sources edited away long ago.
  for (const old of readdirSync(CACHE)) {
    const p = path.join(CACHE, old);
    if (p !== dir && Date.now() - statSync(p).mtimeMs > DAY_MS) {
      rmSync(p, { recursive: true, force: true });
    }
  }
  return dir;
}

/** The compiled CLI's entry point: `node ENTRY ARGS` runs `airlock ARGS`. */
export function compiledCli(): string {
  return path.join(compiledDir(), "airlock.js");
}

/** The compiled form of `file`, a .ts file of src/ or test/. */
export function compiled(file: string): string {
  return path.join(compiledDir(), path.relative(ROOT, file).replace(/\.ts$/, ".js"));
}
