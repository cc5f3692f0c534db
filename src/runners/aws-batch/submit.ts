import type { JobDefinition, SubmitJobCommandInput } from "@aws-sdk/client-batch";
import { UserError } from "../../errors.js";
import { JOB_ENV } from "../../protocol.js";
import { jobName } from "../../runid.js";
import type { AwsBatchSettings } from "../../config/settings.js";

export interface SubmitPlan {
  runId: string;
  dirName: string;
  jobDefinition: JobDefinition;
  userCommand: string[];
  inputsUrl: string;
  resultsUrl: string;
  envUrl?: string;
}

/** The SubmitJob request of the job protocol (docs/protocol.md). */
export function submitInput(settings: AwsBatchSettings, plan: SubmitPlan): SubmitJobCommandInput {
  const def = plan.jobDefinition;
  const command = plan.userCommand.length ? plan.userCommand : (def.containerProperties?.command ?? []);
  if (!command.length) {
    throw new UserError(`no command given and job definition ${def.jobDefinitionName} has none: put the command after --, e.g. nbatch build --aws-batch dir -- make`);
  }
  const environment = [
    { name: JOB_ENV.runId, value: plan.runId },
    { name: JOB_ENV.inputsUrl, value: plan.inputsUrl },
    { name: JOB_ENV.resultsUrl, value: plan.resultsUrl },
    ...(plan.envUrl ? [{ name: JOB_ENV.envUrl, value: plan.envUrl }] : []),
  ];
  const resourceRequirements = [
    ...(settings.cpus !== undefined ? [{ type: "VCPU" as const, value: String(settings.cpus) }] : []),
    ...(settings.memoryMiB !== undefined ? [{ type: "MEMORY" as const, value: String(settings.memoryMiB) }] : []),
  ];
  return {
    jobName: jobName(plan.dirName, plan.runId),
    jobQueue: settings.queue,
    jobDefinition: def.jobDefinitionArn ?? `${def.jobDefinitionName}:${def.revision}`,
    containerOverrides: {
      command: [...settings.agentCommand, "--", ...command],
      environment,
      ...(resourceRequirements.length ? { resourceRequirements } : {}),
    },
    tags: { "nbatch:run-id": plan.runId },
    propagateTags: true,
  };
}
