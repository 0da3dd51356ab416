/**
 * A real master HTTP service on 127.0.0.1:<ephemeral> over a store in a temp dir, wired the way a
 * master main would: events are reduced into fleet state and appended to the store. Used in
 * process by the integration tests and in a child process by master-http-child.ts.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { BootServer } from "../../src/boot/plan-boot.js";
import { createLogger, type Logger } from "../../src/lib/log.js";
import { parseSiteConfig } from "../../src/model/site-config.js";
import { createApp, type AppLimits } from "../../src/master/http/app.js";
import { startHttpServer, type RunningServer } from "../../src/master/http/server.js";
import { EMPTY_FLEET, reduceFleet, type FleetState, type NodeEvent } from "../../src/model/node-state.js";
import { createStore, type Store } from "../../src/master/store/store.js";

export const IMAGE_LABEL = "test";

export const TEST_SERVER: BootServer = {
  address: "127.0.0.1",
  httpPort: 8080,
  imageLabel: IMAGE_LABEL,
  imageArch: "x86_64",
  imageKernelArgs: [],
  arm64Firmware: false,
};

/** An http tree as the build's `http` target lays it out, with a deterministic fake ISO. */
export async function makeHttpTree(dir: string, isoBytes = 3 * 1024 * 1024): Promise<{ iso: Buffer }> {
  const iso = Buffer.alloc(isoBytes);
  for (let index = 0; index < iso.length; index += 1) iso[index] = (index * 31 + (index >> 8)) & 0xff;
  await mkdir(join(dir, "isos"), { recursive: true });
  await mkdir(join(dir, "install", IMAGE_LABEL), { recursive: true });
  await writeFile(join(dir, "isos", `${IMAGE_LABEL}.iso`), iso);
  await writeFile(join(dir, "install", IMAGE_LABEL, "linux"), Buffer.alloc(4096, 1));
  await writeFile(join(dir, "install", IMAGE_LABEL, "initrd"), Buffer.alloc(8192, 2));
  await writeFile(join(dir, "install", IMAGE_LABEL, "boot.json"), "{}\n");
  return { iso };
}

export interface TestMaster {
  url: string;
  port: number;
  store: Store;
  secret: Buffer;
  events: NodeEvent[];
  fleet(): FleetState;
  close(): Promise<void>;
}

export interface TestMasterOptions {
  storeDir: string;
  httpRoot: string;
  postTgzPath?: string;
  limits?: Partial<AppLimits>;
  log?: Logger;
  onSync?: (path: string) => void;
  isoDevice?: { path: string; sizeBytes: number };
}

export async function startTestMaster(options: TestMasterOptions): Promise<TestMaster> {
  const log = options.log ?? createLogger({}, { write: () => {} });
  const store = await createStore(options.storeDir, { log, ...(options.onSync && { onSync: options.onSync }) });
  const secret = await store.secret();
  const stored = await store.readEvents();
  let fleet = stored.reduce(reduceFleet, EMPTY_FLEET);
  const events: NodeEvent[] = [];
  const app = createApp({
    config: parseSiteConfig(""),
    store,
    httpRoot: options.httpRoot,
    postTgzPath: options.postTgzPath,
    server: TEST_SERVER,
    fleet: () => fleet,
    onEvent: async (event) => {
      events.push(event);
      fleet = reduceFleet(fleet, event);
      await store.appendEvent(event);
    },
    secret,
    log,
    limits: options.limits,
    isoDevice: options.isoDevice,
  });
  let running: RunningServer | undefined = await startHttpServer(app, { host: "127.0.0.1", port: 0 });
  const port = running.port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    store,
    secret,
    events,
    fleet: () => fleet,
    async close() {
      await running?.close();
      running = undefined;
      await store.close();
    },
  };
}
