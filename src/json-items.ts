/**
 * A large JSON object read a piece at a time: one list field's items each
 * parsed on its own, and the rest of the object without them. JSON.parse of
 * a tree of 200,000 entries holds all 200,000 objects at once, and the
 * collector promotes them while they are made; item by item, each is
 * garbage as soon as the caller has taken what it needs.
 */

export interface ListSplit {
  /** The object with the field's list empty. */
  rest: unknown;
  count: number;
  /** Item i, parsed; throws a SyntaxError when it is not JSON. */
  item(i: number): unknown;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN_OBJECT = 0x7b;
const OPEN_LIST = 0x5b;
const CLOSE_OBJECT = 0x7d;
const CLOSE_LIST = 0x5d;
const isSpace = (c: number | undefined) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/**
 * Splits `text`, a JSON object, at its list field `field`. Undefined when it
 * is laid out otherwise (not an object, the field absent, given twice or not
 * a list) or the rest is not JSON: the caller then parses the text whole,
 * which also says what is wrong with it. Only the items' own text is left
 * unchecked, for item(). Structural characters are ASCII and never part of
 * a UTF-8 sequence, so the bytes are scanned as they are.
 */
export function splitList(text: Buffer, field: string): ListSplit | undefined {
  let i = skipSpace(text, 0);
  if (text[i] !== OPEN_OBJECT) return undefined;
  let depth = 0;
  let seen = false;
  let key: [number, number] | undefined;
  let valueOf: string | undefined;
  let list: [number, number] | undefined;
  const bounds: number[] = [];
  for (; i < text.length; i++) {
    const c = text[i]!;
    if (valueOf !== undefined && !isSpace(c)) {
      // The first character of a value at the top level.
      if (valueOf === field) {
        if (seen) return undefined;
        seen = true;
        if (c === OPEN_LIST) {
          list = [i, 0];
          bounds.push(i + 1);
        }
      }
      valueOf = undefined;
    }
    if (c === QUOTE) {
      const start = i;
      for (i++; i < text.length && text[i] !== QUOTE; i++) if (text[i] === BACKSLASH) i++;
      if (depth === 1) key = [start, i + 1];
    } else if (c === OPEN_OBJECT || c === OPEN_LIST) depth++;
    else if (c === CLOSE_OBJECT || c === CLOSE_LIST) {
      if (--depth === 0) break;
      if (depth === 1 && list && list[1] === 0) {
        bounds.push(i);
        list[1] = i + 1;
      }
    } else if (c === COMMA && depth === 2 && list && list[1] === 0) bounds.push(i, i + 1);
    else if (c === COLON && depth === 1 && key) {
      valueOf = keyText(text, key);
      key = undefined;
    }
  }
  // Nothing but white space may follow the object.
  if (!list || list[1] === 0 || depth !== 0 || skipSpace(text, i + 1) !== text.length) return undefined;
  let rest: unknown;
  try {
    rest = JSON.parse(Buffer.concat([text.subarray(0, list[0]), Buffer.from("[]"), text.subarray(list[1])]).toString("utf8"));
  } catch {
    return undefined;
  }
  // `[]` is one empty slice; `[ ]` too.
  const empty = bounds.length === 2 && skipSpace(text, bounds[0]!) === bounds[1];
  return {
    rest,
    count: empty ? 0 : bounds.length / 2,
    item: (n) => JSON.parse(text.toString("utf8", bounds[2 * n], bounds[2 * n + 1])),
  };
}

function skipSpace(text: Buffer, from: number): number {
  let i = from;
  while (isSpace(text[i])) i++;
  return i;
}

function keyText(text: Buffer, [start, end]: [number, number]): string | undefined {
  try {
    const key: unknown = JSON.parse(text.toString("utf8", start, end));
    return typeof key === "string" ? key : undefined;
  } catch {
    return undefined;
  }
}
