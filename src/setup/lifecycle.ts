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
