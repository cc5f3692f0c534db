import type { Command } from "commander";

/**
 * Puts each option of a command under its heading in the help, the headings
 * in the order given. Every option must be placed: one added without a
 * heading would otherwise land in a stray "Options:" list.
 */
export function groupOptions(command: Command, groups: Readonly<Record<string, readonly string[]>>): Command {
  const headings = Object.keys(groups);
  const headingOf = new Map(Object.entries(groups).flatMap(([heading, flags]) => flags.map((flag) => [flag, heading] as const)));
  for (const option of command.options) {
    const heading = headingOf.get(option.long ?? "");
    if (!heading) throw new Error(`groupOptions: ${option.long} of ${command.name()} has no heading`);
    option.helpGroup(heading);
  }
  // Commander lists the groups in the order their first options were added: sort by heading, then as listed.
  const flags = Object.values(groups).flat();
  const order = (o: (typeof command.options)[number]) => headings.indexOf(o.helpGroupHeading!) * flags.length + flags.indexOf(o.long!);
  (command.options as (typeof command.options)[number][]).sort((a, b) => order(a) - order(b));
  return command;
}
