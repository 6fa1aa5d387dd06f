// One JSON line per event on stderr: machine-readable, and stdout stays free for results.
export type LogFields = Record<string, string | number | boolean | undefined>;

let quiet = false;
export function setQuiet(q: boolean): void {
  quiet = q;
}

export function log(component: string, msg: string, fields: LogFields = {}): void {
  if (quiet) return;
  process.stderr.write(`${JSON.stringify({ t: new Date().toISOString(), component, msg, ...fields })}\n`);
}
