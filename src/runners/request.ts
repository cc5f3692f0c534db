/** What `nbatch build` asks a runner to do, whatever the runner. */
export interface BuildRequest {
  /** Absolute path of the directory to run in. */
  dir: string;
  /** The user's command; empty means the job definition's own command (aws-batch only). */
  command: string[];
  /** --env values, resolved: never shown in the job description. */
  env: Record<string, string>;
  image?: string;
  excludeFromUpload: string[];
  download: string[];
  excludeFromDownload: string[];
}
