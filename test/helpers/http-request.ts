/**
 * Raw HTTP requests with node:http: unlike fetch, the path is sent exactly as written (`/../`
 * survives), the body may be chunked or a stream, and a response that arrives before the body
 * was fully sent (an early 413) is still returned.
 */
import { request as httpRequest, type Agent, type IncomingHttpHeaders } from "node:http";
import type { Readable } from "node:stream";

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  json(): { error?: string; code?: string; message?: string; [key: string]: unknown };
}

export interface RawRequest {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: Buffer | Readable;
  /** Send the body with chunked transfer encoding instead of Content-Length. */
  chunked?: boolean;
  agent?: Agent;
  timeoutMs?: number;
}

export function rawRequest(baseUrl: string, options: RawRequest): Promise<RawResponse> {
  const url = new URL(baseUrl);
  const headers: Record<string, string> = { ...options.headers };
  if (options.chunked) headers["transfer-encoding"] = "chunked";
  else if (Buffer.isBuffer(options.body)) headers["content-length"] = String(options.body.length);
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      host: url.hostname,
      port: url.port,
      method: options.method ?? "GET",
      path: options.path,
      headers,
      agent: options.agent ?? false,
      timeout: options.timeoutMs ?? 30_000,
    });
    let answered = false;
    req.on("timeout", () => req.destroy(new Error(`timeout: ${options.method ?? "GET"} ${options.path}`)));
    req.on("error", (error) => {
      if (!answered) reject(error);
    });
    req.on("response", (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("error", reject);
      res.on("end", () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body.toString("utf8")) });
      });
    });
    const body = options.body;
    if (body === undefined) req.end();
    else if (Buffer.isBuffer(body)) {
      // The server may answer and close before it reads everything; that is not our error.
      req.on("error", () => {});
      req.end(body);
    } else {
      body.on("error", (error) => req.destroy(error));
      body.pipe(req);
    }
  });
}
