/**
 * Checks of JSON that nbatch did not write itself, such as a results.json a
 * job uploaded: a check returns where the value first departs from its
 * shape ("files[3].mode is not a mode"), or undefined when it fits. Fields
 * a check does not name are let through, so newer writers can add some.
 */
export type Check = (value: unknown, at: string) => string | undefined;

export const is =
  (test: (value: unknown) => boolean, what: string): Check =>
  (value, at) =>
    test(value) ? undefined : `${at} is not ${what}`;

export const text = is((v) => typeof v === "string", "a string");
export const wholeNumber = is(Number.isSafeInteger, "a whole number");
export const finiteNumber = is((v) => typeof v === "number" && Number.isFinite(v), "a number");

export const orNull =
  (check: Check): Check =>
  (value, at) =>
    value === null ? undefined : check(value, at);

export const oneOf = (...choices: readonly string[]): Check => is((v) => choices.includes(v as string), `one of ${choices.join(", ")}`);

export const listOf =
  (item: Check): Check =>
  (value, at) => {
    if (!Array.isArray(value)) return `${at} is not a list`;
    for (let i = 0; i < value.length; i++) {
      const wrong = item(value[i], `${at}[${i}]`);
      if (wrong) return wrong;
    }
    return undefined;
  };

/** An object with these fields; those in `optional` may be absent. */
export const objectOf =
  (required: Record<string, Check>, optional: Record<string, Check> = {}): Check =>
  (value, at) => {
    if (typeof value !== "object" || value === null || Array.isArray(value)) return `${at || "it"} is not an object`;
    const fields = value as Record<string, unknown>;
    const name = (key: string) => (at ? `${at}.${key}` : key);
    for (const [key, check] of Object.entries(required)) {
      const wrong = check(fields[key], name(key));
      if (wrong) return wrong;
    }
    for (const [key, check] of Object.entries(optional)) {
      const wrong = fields[key] === undefined ? undefined : check(fields[key], name(key));
      if (wrong) return wrong;
    }
    return undefined;
  };
