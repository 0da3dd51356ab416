/**
 * The master's HTTP service with the review mounted, in process on 127.0.0.1, over a store that
 * review-store.ts filled: wired as main.ts wires it (events reduced, stored, published to the
 * review). `behindNginx` makes X-Real-IP name the client, as recon's nginx front does.
 */
import { join } from "node:path";
import { createLogger } from "../../src/lib/log.js";
import { parseSiteConfig } from "../../src/model/site-config.js";
import { createApp } from "../../src/master/http/app.js";
import { startHttpServer } from "../../src/master/http/server.js";
import { EMPTY_FLEET, reduceFleet, type NodeEvent } from "../../src/model/node-state.js";
import { createStore, type Store } from "../../src/master/store/store.js";
import { createReviewService, type ReviewService } from "../../src/master/review-service.js";
import type { LinkBudgetSource } from "../../src/review/link-budget.js";
import { makeHttpTree, TEST_SERVER } from "./master-app.js";

export interface ReviewMaster {
  url: string;
  store: Store;
  secret: Buffer;
  review: ReviewService;
  /** What the master does with a node event: reduce, store, publish. */
  emit(event: NodeEvent): Promise<void>;
  close(): Promise<void>;
}

export async function startReviewMaster(options: {
  dataDir: string;
  work: string;
  behindNginx?: boolean;
  rescanDelaysMs?: number[];
  linkBudget?: LinkBudgetSource;
  /** Receives the master's log lines (default: dropped). */
  onLog?: (line: string) => void;
}): Promise<ReviewMaster> {
  const log = createLogger({}, { write: options.onLog ?? (() => {}) });
  const httpRoot = join(options.work, "http");
  await makeHttpTree(httpRoot, 4096);
  const store = await createStore(options.dataDir, { log });
  const secret = await store.secret();
  let fleet = (await store.readEvents()).reduce(reduceFleet, EMPTY_FLEET);
  const review = await createReviewService({
    dataDir: options.dataDir,
    fleet: () => fleet,
    log,
    announce: "none",
    ...(options.rescanDelaysMs && { rescanDelaysMs: options.rescanDelaysMs }),
    ...(options.linkBudget && { linkBudget: options.linkBudget }),
  });
  const emit = async (event: NodeEvent) => {
    fleet = reduceFleet(fleet, event);
    await store.appendEvent(event);
    review.publish(event);
  };
  const app = createApp({
    config: parseSiteConfig(""),
    store,
    httpRoot,
    server: TEST_SERVER,
    fleet: () => fleet,
    onEvent: emit,
    secret,
    log,
    review: review.router,
  });
  app.locals.behindNginx = options.behindNginx === true;
  const server = await startHttpServer(app, { host: "127.0.0.1", port: 0 });
  return {
    url: `http://127.0.0.1:${server.port}`,
    store,
    secret,
    review,
    emit,
    async close() {
      await server.close();
      review.close();
      await store.close();
    },
  };
}
