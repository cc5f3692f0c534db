import type { LifecycleRule } from "@aws-sdk/client-s3";

/**
 * The first enabled rule that expires every object nbatch writes under
 * prefix. nbatch's objects carry no tags and come in any size, so a rule
 * filtered by tag or size covers only some of them and does not count.
 */
export function coveringRule(rules: readonly LifecycleRule[], prefix: string): LifecycleRule | undefined {
  const keyPrefix = prefix ? `${prefix}/` : "";
  return rules.find((rule) => {
    if (rule.Status !== "Enabled" || !(rule.Expiration?.Days || rule.Expiration?.Date)) return false;
    const filter = rule.Filter;
    if (filter?.Tag || filter?.ObjectSizeGreaterThan !== undefined || filter?.ObjectSizeLessThan !== undefined) return false;
    const and = filter?.And;
    if (and && (and.Tags?.length || and.ObjectSizeGreaterThan !== undefined || and.ObjectSizeLessThan !== undefined)) return false;
    const rulePrefix = filter?.Prefix ?? and?.Prefix ?? rule.Prefix ?? "";
    return keyPrefix.startsWith(rulePrefix);
  });
}

/** "rule nbatch-expire expires objects under jobs/ after 30 days". */
export function describeRule(rule: LifecycleRule): string {
  const scope = rule.Filter?.Prefix ?? rule.Filter?.And?.Prefix ?? rule.Prefix;
  const when = rule.Expiration?.Days ? `after ${rule.Expiration.Days} days` : `on ${rule.Expiration?.Date?.toISOString().slice(0, 10)}`;
  return `rule ${rule.ID ?? "(unnamed)"} expires objects ${scope ? `under ${scope}` : "in the whole bucket"} ${when}`;
}

/** The soonest the bucket's rules may expire an object: after `days`, or on `date`; neither when none may. */
export interface Expiry {
  days?: number;
  date?: number;
}

/**
 * The soonest any enabled rule may expire an object nbatch writes under
 * keyPrefix. Unlike coveringRule, a rule that reaches only some objects
 * counts: one filtered by size may still take a pack. Rules filtered by tag
 * never apply (nbatch's objects carry no tags).
 */
export function soonestExpiry(rules: readonly LifecycleRule[], keyPrefix: string): Expiry {
  const expiry: Expiry = {};
  for (const rule of rules) {
    if (rule.Status !== "Enabled" || rule.Filter?.Tag || rule.Filter?.And?.Tags?.length) continue;
    const rulePrefix = rule.Filter?.Prefix ?? rule.Filter?.And?.Prefix ?? rule.Prefix ?? "";
    if (!(keyPrefix.startsWith(rulePrefix) || rulePrefix.startsWith(keyPrefix))) continue;
    const { Days, Date: on } = rule.Expiration ?? {};
    if (Days) expiry.days = Math.min(expiry.days ?? Infinity, Days);
    if (on) expiry.date = Math.min(expiry.date ?? Infinity, on.getTime());
  }
  return expiry;
}
