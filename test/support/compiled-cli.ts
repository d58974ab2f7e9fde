// The CLI's source compiled to JavaScript once per version of it, for the tests' child processes:
// a child over tsx spends about twice the CPU time of one over plain JavaScript before its first
// line runs (tsx resolves and loads each of its ~600 modules through a hooks thread), and the
// suite starts the CLI hundreds of times. esbuild does per file what tsx does on the fly, so the
// child runs the same code; the directory is named for a hash of the source, so an edited file is
// compiled again and the tests never run a stale build (nor depend on `npm run build`).
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
import { fileURLToPath } from "node:url";
import { buildSync, version as esbuildVersion } from "esbuild";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SRC = path.join(ROOT, "src");
// Under node_modules, so that the compiled modules find the packages they import.
const CACHE = path.join(ROOT, "node_modules", ".cache", "airlock-test-cli");
const ENTRY = `import { main } from "./cli/main.js";\n\nprocess.exitCode = await main(process.argv);\n`;
const DAY_MS = 24 * 3600_000;

function sourceFiles(): string[] {
  return readdirSync(SRC, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts"))
    .sort();
}

let entry: string | undefined;

/** The compiled CLI's entry point (made on first use): `node ENTRY ARGS` runs `airlock ARGS`. */
export function compiledCli(): string {
  if (entry) return entry;
  const files = sourceFiles();
  const hash = createHash("sha256").update(`esbuild ${esbuildVersion}\n${ENTRY}`);
  for (const f of files) hash.update(`${f}\0${readFileSync(path.join(SRC, f), "utf8")}\0`);
  const dir = path.join(CACHE, hash.digest("hex").slice(0, 16));
  entry = path.join(dir, "airlock.js");
  if (existsSync(entry)) return entry;

  // Another test process may be compiling the same source: each compiles into a directory of its
  // own and the first rename wins.
  mkdirSync(CACHE, { recursive: true });
  const tmp = mkdtempSync(path.join(CACHE, "tmp-"));
  buildSync({
    entryPoints: files.map((f) => path.join(SRC, f)),
    outbase: SRC,
    outdir: tmp,
    format: "esm",
    platform: "node",
    target: "node20",
    logLevel: "error",
  });
  // node_modules is no package scope: without this, Node would take the files for CommonJS.
  writeFileSync(path.join(tmp, "package.json"), '{ "type": "module" }\n');
  writeFileSync(path.join(tmp, "airlock.js"), ENTRY);
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
  return entry;
}
