/**
 * Lanes: how a run's tasks are laid out over Batch array jobs. Without
 * --array-parallel, one array of every task. With --array-parallel K (fewer
 * than the tasks), K arrays of SEQUENTIAL dependency type: lane l runs
 * tasks l, l+K, l+2K... one after another, so at most K run at once without
 * anything staying attached (docs/fanout.md says what that costs). A lane of
 * one task is a plain job: Batch's arrays start at 2.
 */
import type { SubmitJobCommandInput } from "@aws-sdk/client-batch";
import { JOB_ENV } from "../../protocol.js";

export interface Lane {
  /** The array job (or, for a lane of one task, the plain job). */
  jobId: string;
  offset: number;
  stride: number;
  size: number;
}

export type LaneShape = Omit<Lane, "jobId">;

export function planLanes(tasks: number, parallel: number | undefined): { lanes: LaneShape[]; sequential: boolean } {
  if (parallel === undefined || parallel >= tasks) return { lanes: [{ offset: 0, stride: 1, size: tasks }], sequential: false };
  const lanes = Array.from({ length: parallel }, (_, l) => ({ offset: l, stride: parallel, size: Math.ceil((tasks - l) / parallel) }));
  return { lanes, sequential: true };
}

/** The SubmitJob request of one lane: the run's request with where in the task list its children are. */
export function laneInput(base: SubmitJobCommandInput, lane: LaneShape, sequential: boolean, tasksUrl: string): SubmitJobCommandInput {
  const input = structuredClone(base);
  const overrides = input.containerOverrides ?? input.ecsPropertiesOverride!.taskProperties![0]!.containers![0]!;
  overrides.environment = [
    ...(overrides.environment ?? []),
    { name: JOB_ENV.tasksUrl, value: tasksUrl },
    { name: JOB_ENV.taskOffset, value: String(lane.offset) },
    { name: JOB_ENV.taskStride, value: String(lane.stride) },
  ];
  if (lane.size < 2) return input;
  return { ...input, arrayProperties: { size: lane.size }, ...(sequential ? { dependsOn: [{ type: "SEQUENTIAL" }] } : {}) };
}

/** Where a position of the task list runs: its lane, and the Batch job id of its child. */
export function childOf(lanes: readonly Lane[], position: number): { lane: Lane; jobId: string } {
  const lane = lanes.find((l) => position >= l.offset && (position - l.offset) % l.stride === 0 && (position - l.offset) / l.stride < l.size);
  if (!lane) throw new Error(`position ${position} is in no lane`);
  return { lane, jobId: lane.size < 2 ? lane.jobId : `${lane.jobId}:${(position - lane.offset) / lane.stride}` };
}

/** The position of a lane's child, from its array index. */
export function positionOf(lane: Lane, arrayIndex: number): number {
  return lane.offset + arrayIndex * lane.stride;
}
