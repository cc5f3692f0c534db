/** Small text formatting shared by the runners. */

const pad = (n: number, width = 2) => String(Math.trunc(Math.abs(n))).padStart(width, "0");

/** ISO 8601 in the local time zone with its offset: 2026-11-21T14:03:07.123+01:00. */
export function localIsoTime(ms: number): string {
  const d = new Date(ms);
  const offset = -d.getTimezoneOffset();
  const date = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
  const zone = `${offset >= 0 ? "+" : "-"}${pad(offset / 60)}:${pad(offset % 60)}`;
  return `${date}T${time}${zone}`;
}

const UNITS = ["B", "kB", "MB", "GB", "TB"];

/** Decimal sizes, as S3 and most file managers show them: 1.2 MB. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${UNITS[unit]}`;
}

/** A span still running or left, as a counter: "45 s", "3 min 10 s", "2 h 5 min". */
export function formatSeconds(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
}

export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}

/** Quotes a word for a POSIX shell, only when it needs it; a leading ~/ stays outside the quotes, so it still expands. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_./:=@%+~,-]+$/.test(word)) return word;
  const [home, rest] = word.startsWith("~/") ? ["~/", word.slice(2)] : ["", word];
  return `${home}'${rest.replace(/'/g, `'\\''`)}'`;
}

/** A command's words as a user would type them in a shell, safe to show on a terminal. */
export function shownCommand(argv: readonly string[]): string {
  return printable(argv.map(shellQuote).join(" "));
}

/** "3.2 minutes", "41 seconds", "2.1 hours": how long something took. */
export function formatDuration(ms: number): string {
  const s = ms / 1000;
  if (s < 90) return plural(Math.round(s), "second");
  // One decimal, and none when it is 0: "1.5 minutes", "24 hours".
  if (s < 90 * 60) return `${Number((s / 60).toFixed(1))} minutes`;
  return `${Number((s / 3600).toFixed(1))} hours`;
}

/** Binary sizes, as memory is asked for: 512 MiB, 15 GiB, 7.5 GiB. */
export function formatMiB(mib: number): string {
  if (mib < 1024) return `${mib} MiB`;
  const gib = mib / 1024;
  return `${Number.isInteger(gib) ? gib : gib.toFixed(1)} GiB`;
}

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;
const SHOWN_PATH_MAX = 160;

/**
 * Text nbatch did not write (a path, a server's message) as safe terminal
 * text: control characters, which could retitle the terminal, clear it or
 * write the clipboard, shown as \xNN.
 */
export function printable(text: string): string {
  return text.replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

/** A path from a job or a directory as safe terminal text, a very long one cut in the middle. */
export function shownPath(path: string): string {
  const safe = printable(path);
  return safe.length > SHOWN_PATH_MAX ? `${safe.slice(0, 80)}…${safe.slice(-60)}` : safe;
}
