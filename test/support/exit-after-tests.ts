// Loaded into every test file's process by run-tests.ts: a file whose process is still running a
// minute after its tests and hooks began to finish (something it started still holds the event
// loop) is ended, so such a leak cannot hold the whole run.
// This replaces `--test-force-exit`, which ends the process the moment the last test ends, before
// the results still on their way to the runner are out: the runner then reports fewer tests than
// ran, and passes (nodejs/node#64833; seen here on Node 24 under load, 2 of 2 whole runs).
const GRACE_MS = 60_000;

if (process.env.NODE_TEST_CONTEXT) {
  const { after } = await import("node:test");
  // The first of the file's top-level `after` hooks: the timer starts once every test has ended.
  after(() => {
    setTimeout(() => {
      process.stderr.write(
        `${process.argv[1]}: still running ${GRACE_MS / 1000} s after its tests ended (a handle left open?); ended\n`,
      );
      process.exit();
    }, GRACE_MS).unref();
  });
}
