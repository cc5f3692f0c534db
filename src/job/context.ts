import type { AwsClients } from "../aws/clients.js";
import type { CommandContext } from "../commands/context.js";
import type { Settings } from "../config/settings.js";

/** What the stages of an AWS Batch job work with: the command's context, the settings and the clients. */
export interface BatchContext extends CommandContext {
  settings: Settings;
  clients: AwsClients;
}
