// How long a test waits for an event (a process to start, a queue to drain, a check to conclude)
// before it reports a hang. Tests pass on the event itself, never on how much work fits in a
// time: this only bounds a wait that would otherwise never end, so it is generous, for a busy
// machine.
export const PATIENCE_MS = 5 * 60_000;
