// The CLI as the tests run it: the current source through tsx, exactly as bin/airlock.js runs
// the built one.
import { main } from "../../src/cli/main.js";

process.exitCode = await main(process.argv);
