#!/usr/bin/env -S node --
// Entry point: the compiled CLI lives in dist/ (npm run build). The `--` ends node's own options:
// Node 20 otherwise takes an `--env-file` anywhere on the command line as its own (and loads the
// file into this process's environment), even `airlock secrets import SET --env-file FILE`.
import { main } from "../dist/cli/main.js";

process.exitCode = await main(process.argv);
