// Moving a bulk download out of Airlock's event loop. Once a destination has sent a job enough
// bytes, the proxy hands the two sockets to a relay process of the job's own (the system's
// python3), which moves what the destination sends to the job with splice(2): the bytes stay in
// the kernel, where relaying them in Node copies each one out and back in. Only that direction
// moves: the proxy still reads the job's side (a tunnel's upload, a request's body, the end of
// the connection) and still writes to the destination, so each direction of each socket keeps
// one reader and one writer, and nothing that the proxy decides on ever passes the relay.
//
// The sockets travel over Node's IPC channel as child_process sends them between Node processes
// (one `NODE_HANDLE` JSON line each, the descriptor as SCM_RIGHTS, acknowledged by the receiver);
// the relay answers with plain JSON lines: `moved` once it has both, `done` with the bytes it
// read from the destination. The relay decides nothing: it never sees a connection undecided.
import { type ChildProcess, spawn } from "node:child_process";
import type net from "node:net";

const RELAY_PY = `
import fcntl, json, os, select, socket, sys, threading
if not hasattr(os, "splice"):
    sys.stderr.write("python3 3.10 or later is needed (os.splice)")
    sys.exit(3)
ch = socket.socket(fileno=int(os.environ["NODE_CHANNEL_FD"]))
ch.setblocking(True)
lock = threading.Lock()
def say(obj):
    data = (json.dumps(obj) + "\\n").encode()
    with lock:
        ch.sendall(data)
SIZE = 1 << 20
FLAGS = os.SPLICE_F_MOVE | os.SPLICE_F_NONBLOCK
live = {}
def wait(fd, events):
    p = select.poll()
    p.register(fd, events)
    p.poll()
def end(s, how):
    try:
        s.shutdown(how)
    except OSError:
        pass
# The sockets are shared with Airlock's process, non-blocking: every wait is a poll.
def pump(pid, dest, job):
    got = 0
    r, w = os.pipe()
    try:
        try:
            fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, SIZE)
        except OSError:
            pass
        held = 0
        while True:
            if held == 0:
                try:
                    held = os.splice(dest.fileno(), w, SIZE, flags=FLAGS)
                except BlockingIOError:
                    wait(dest, select.POLLIN)
                    continue
                if held == 0:
                    break
                got += held
            try:
                held -= os.splice(r, job.fileno(), held, flags=FLAGS)
            except BlockingIOError:
                wait(job, select.POLLOUT)
        end(job, socket.SHUT_WR)
    except OSError:
        end(job, socket.SHUT_RDWR)
        end(dest, socket.SHUT_RDWR)
    finally:
        os.close(r)
        os.close(w)
        with lock:
            live.pop(pid, None)
        dest.close()
        job.close()
        say({"done": pid, "bytes": got})
buf = b""
fds = []
halves = {}
while True:
    data, more, _, _ = socket.recv_fds(ch, 65536, 8)
    if not data:
        os._exit(0)
    fds += more
    buf += data
    while b"\\n" in buf:
        line, buf = buf.split(b"\\n", 1)
        msg = json.loads(line)
        if isinstance(msg, dict) and msg.get("cmd") == "NODE_HANDLE":
            fd = fds.pop(0)
            say({"cmd": "NODE_HANDLE_ACK"})
            m = msg["msg"]
            pair = halves.setdefault(m["id"], {})
            pair[m["side"]] = socket.socket(fileno=fd)
            if len(pair) == 2:
                del halves[m["id"]]
                with lock:
                    live[m["id"]] = pair
                say({"moved": m["id"]})
                threading.Thread(target=pump, args=(m["id"], pair["dest"], pair["job"]), daemon=True).start()
        elif isinstance(msg, dict) and msg.get("end"):
            with lock:
                pairs = list(live.values())
            for pair in pairs:
                end(pair["dest"], socket.SHUT_RDWR)
                end(pair["job"], socket.SHUT_RDWR)
`;

/** How many bytes a destination sends through the proxy before its download moves to the relay. */
export const RELAY_AFTER_BYTES = 1 << 20;

export interface SpliceRelayOptions {
  /** The python3 (3.10 or later) to run. */
  pythonPath: string;
  /** Bytes a destination sends through the proxy itself first (default RELAY_AFTER_BYTES). */
  afterBytes?: number;
}

/** Once a moved download ends: the bytes the relay read, and false when the relay failed. */
export type Moved = (bytes: number, ok: boolean) => void;

interface Moving {
  moved: (ok: boolean) => void;
  done: Moved;
  /** The relay said it holds both sockets. */
  held: boolean;
}

/** A job's splice relay: started on the first download large enough, ended with the job. */
export class SpliceRelay {
  readonly afterBytes: number;
  readonly #python: string;
  #child: ChildProcess | null = null;
  #broken = false;
  #next = 0;
  readonly #pairs = new Map<number, Moving>();
  #exited: Promise<void> = Promise.resolve();
  #whenEmpty: (() => void) | null = null;
  #moved = 0;

  constructor(o: SpliceRelayOptions) {
    this.afterBytes = o.afterBytes ?? RELAY_AFTER_BYTES;
    this.#python = o.pythonPath;
  }

  /** How many downloads the relay has taken. */
  get moved(): number {
    return this.#moved;
  }

  /** Whether a download may still move to the relay (it has not failed). */
  get usable(): boolean {
    return !this.#broken;
  }

  /**
   * Hands what `dest` sends from now on to the relay, which writes it to `job` and ends `job`'s
   * writing side when `dest` ends. The caller has paused `dest`'s reading and left nothing
   * unwritten on `job`, and writes nothing more to `job`. Resolves false when the relay could
   * not take them (the caller goes on relaying); `done` gets the bytes the relay read from `dest`.
   */
  move(job: net.Socket, dest: net.Socket, done: Moved): Promise<boolean> {
    const child = this.#start();
    const jobHandle = rawHandle(job);
    const destHandle = rawHandle(dest);
    if (!child || !jobHandle || !destHandle) return Promise.resolve(false);
    const id = this.#next++;
    return new Promise((moved) => {
      this.#pairs.set(id, { moved, done, held: false });
      const failed = (e: Error | null) => {
        if (e) this.#fail();
      };
      // Sent with the sockets kept open: the proxy still reads the job's side.
      child.send({ id, side: "dest" }, destHandle as never, failed);
      child.send({ id, side: "job" }, jobHandle as never, failed);
    });
  }

  /** Ends every moved download, waits (briefly) for their byte counts, and stops the relay. */
  async close(): Promise<void> {
    this.#broken = true;
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    if (this.#pairs.size > 0 && child.connected) {
      const counted = new Promise<void>((resolve) => {
        this.#whenEmpty = resolve;
      });
      child.send({ end: true }, () => {});
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((r) => {
        timer = setTimeout(r, 2_000);
      });
      await Promise.race([counted, this.#exited, late]);
      clearTimeout(timer);
    }
    child.kill("SIGKILL");
    await this.#exited;
  }

  #start(): ChildProcess | null {
    if (this.#child || !this.usable) return this.#child;
    // Nothing of Airlock's environment reaches it; it is given sockets, and reads nothing else.
    const child = spawn(this.#python, ["-I", "-S", "-c", RELAY_PY], {
      env: {},
      stdio: ["ignore", "ignore", "ignore", "ipc"],
    });
    this.#child = child;
    child.on("error", () => this.#fail());
    child.on("message", (m: { moved?: number; done?: number; bytes?: number }) => {
      const p = typeof m.moved === "number" ? this.#pairs.get(m.moved) : undefined;
      if (p) {
        p.held = true;
        this.#moved++;
        p.moved(true);
      } else if (typeof m.done === "number") {
        const p = this.#pairs.get(m.done);
        this.#pairs.delete(m.done);
        p?.done(m.bytes ?? 0, true);
        if (this.#pairs.size === 0) this.#whenEmpty?.();
      }
    });
    // A relay that could not start emits 'error', not always 'exit'.
    this.#exited = new Promise((resolve) => {
      child.once("exit", () => resolve());
      child.once("error", () => resolve());
    });
    void this.#exited.then(() => this.#fail());
    return child;
  }

  /** The relay is gone or unusable: what it held ends, nothing more moves to it. */
  #fail(): void {
    this.#broken = true;
    // A download the relay held is lost with it; one it never held goes on in the proxy.
    for (const p of this.#pairs.values()) {
      if (p.held) p.done(0, false);
      else p.moved(false);
    }
    this.#pairs.clear();
    this.#whenEmpty?.();
    if (this.#child && this.#child.exitCode === null) this.#child.kill("SIGKILL");
  }
}

/**
 * The socket's libuv handle, which child_process sends without closing it (a net.Socket sent
 * with `keepOpen` would, for an accepted one, tie its server's close to the receiver's answers).
 */
function rawHandle(s: net.Socket): object | null {
  const h = (s as unknown as { _handle?: object | null })._handle;
  return h ?? null;
}
