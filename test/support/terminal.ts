// The CLI on a real pseudo-terminal (util-linux's `script`), as a person at a keyboard runs it:
// stdout is a TTY, and Ctrl-C is the interrupt character typed into the terminal.
import { type ChildProcess, spawn } from "node:child_process";
import { cliCommand } from "./cli.js";
import { PATIENCE_MS } from "./patience.js";

const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;

export interface Terminal {
  child: ChildProcess;
  /** Everything the terminal received so far (stdout and stderr, as the pty mixes them). */
  output(): string;
  /** Resolves once the output matches. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  /** Types Ctrl-C. */
  interrupt(): void;
  exited: Promise<number | null>;
}

export function spawnInTerminal(
  args: string[],
  o: { cwd: string; env: NodeJS.ProcessEnv },
): Terminal {
  // exec: the CLI itself is the terminal's process, so the exit code is its own.
  const cmd = `exec ${cliCommand(args).map(quote).join(" ")}`;
  const child = spawn("script", ["-qfec", cmd, "/dev/null"], {
    cwd: o.cwd,
    env: { ...o.env, TERM: "xterm" },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  const waiters: (() => void)[] = [];
  for (const s of [child.stdout!, child.stderr!]) {
    s.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      for (const w of [...waiters]) w();
    });
  }
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  return {
    child,
    output: () => out,
    exited,
    interrupt: () => child.stdin!.write("\x03"),
    waitFor(re, timeoutMs = PATIENCE_MS) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = re.exec(out);
          if (!m || !waiters.includes(check)) return;
          waiters.splice(waiters.indexOf(check), 1);
          clearTimeout(timer);
          resolve(m[0]);
        };
        const fail = (why: string) => {
          if (!waiters.includes(check)) return;
          waiters.splice(waiters.indexOf(check), 1);
          clearTimeout(timer);
          reject(new Error(`the terminal ${why} ${re}:\n${out}`));
        };
        const timer = setTimeout(() => fail("never showed"), timeoutMs);
        waiters.push(check);
        // Once the process is gone nothing more will come: answer now, not at the timeout.
        void exited.then((code) =>
          setImmediate(() => {
            check();
            fail(`exited (${code}) without showing`);
          }),
        );
        check();
      });
    },
  };
}
