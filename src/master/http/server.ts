/**
 * Binds the app to a socket (smee: `server(listener, handler)`), failing fast when the port is
 * taken, and closes it including idle keep-alive connections.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { RequestListener } from "node:http";

export interface RunningServer {
  server: Server;
  port: number;
  close(): Promise<void>;
}

export async function startHttpServer(app: RequestListener, options: { host: string; port: number }): Promise<RunningServer> {
  const server = createServer(app);
  // iPXE fetches kernel, initrd (and the agent the ISO) back to back; a longer keep-alive than
  // Node's 5 s default spares a TCP handshake per file on slow firmware stacks.
  server.keepAliveTimeout = 30_000;
  server.headersTimeout = 35_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
