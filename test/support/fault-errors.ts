import { randomUUID } from "node:crypto";
import type { Service } from "./fault-classify.js";

/** The errors tests ask for by meaning; each service spells them its own way. */
export type AwsErrorKind = "Throttling" | "AccessDenied" | "ExpiredToken" | "NotFound";

/** Any other error: the exact status and code to send. */
export interface CannedError {
  status: number;
  code: string;
}

const SHAPES: Record<AwsErrorKind, Record<Service, CannedError & { message: string }>> = {
  Throttling: {
    s3: { status: 503, code: "SlowDown", message: "Please reduce your request rate." },
    logs: { status: 400, code: "ThrottlingException", message: "Rate exceeded" },
    batch: { status: 429, code: "TooManyRequestsException", message: "Too Many Requests." },
    sts: { status: 400, code: "Throttling", message: "Rate exceeded" },
  },
  AccessDenied: {
    s3: { status: 403, code: "AccessDenied", message: "Access Denied" },
    logs: { status: 400, code: "AccessDeniedException", message: "User is not authorized to perform this operation" },
    batch: { status: 403, code: "AccessDeniedException", message: "User is not authorized to perform this operation" },
    sts: { status: 403, code: "AccessDenied", message: "User is not authorized to perform this operation" },
  },
  ExpiredToken: {
    s3: { status: 400, code: "ExpiredToken", message: "The provided token has expired." },
    logs: { status: 400, code: "ExpiredTokenException", message: "The security token included in the request is expired" },
    batch: { status: 403, code: "ExpiredTokenException", message: "The security token included in the request is expired" },
    sts: { status: 403, code: "ExpiredToken", message: "The security token included in the request is expired" },
  },
  NotFound: {
    s3: { status: 404, code: "NoSuchKey", message: "The specified key does not exist." },
    logs: { status: 400, code: "ResourceNotFoundException", message: "The specified log stream does not exist." },
    batch: { status: 400, code: "ClientException", message: "Not found." },
    sts: { status: 404, code: "NotFound", message: "Not found." },
  },
};

export interface ErrorResponse {
  status: number;
  headers: Record<string, string>;
  text: string;
}

/** An error answer in the wire format of the service's protocol, as the SDK parses it. */
export function awsErrorResponse(service: Service, error: AwsErrorKind | CannedError, message?: string): ErrorResponse {
  const shape = typeof error === "string" ? SHAPES[error][service] : { ...error, message: "" };
  const { status, code } = shape;
  const text = message ?? shape.message;
  const requestId = randomUUID();
  switch (service) {
    case "s3":
      return {
        status,
        headers: { "content-type": "application/xml", "x-amz-request-id": requestId },
        text: `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${xml(text)}</Message><RequestId>${requestId}</RequestId></Error>`,
      };
    case "logs":
      return {
        status,
        headers: { "content-type": "application/x-amz-json-1.1", "x-amzn-requestid": requestId },
        text: JSON.stringify({ __type: code, message: text }),
      };
    case "batch":
      return {
        status,
        headers: { "content-type": "application/json", "x-amzn-errortype": code, "x-amzn-requestid": requestId },
        text: JSON.stringify({ message: text }),
      };
    case "sts":
      return {
        status,
        headers: { "content-type": "text/xml", "x-amzn-requestid": requestId },
        text: `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${xml(text)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
      };
  }
}

function xml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
