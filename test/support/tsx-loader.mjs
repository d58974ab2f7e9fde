// `--import` for a child process that runs the TypeScript source (the CLI, a gateway) with a
// TMPDIR of its own: tsx keeps its compile cache under os.tmpdir(), so such a child would compile
// every module again, into a directory made for it (about a third of its start-up). This loads
// tsx with TMPDIR set to the directory in this module's URL (`?tmpdir=`, the test process's own)
// and gives the child its TMPDIR back before any of its code runs: tsx's hooks thread keeps the
// environment it started with, the child sees only its own.
const shared = new URL(import.meta.url).searchParams.get("tmpdir");
const own = process.env.TMPDIR;
if (shared) process.env.TMPDIR = shared;
try {
  await import("tsx");
} finally {
  if (own === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = own;
}
