/**
 * Raw uploads, read-only, under /nodes/<mac>/<id>/…: the store resolves the directory from a
 * validated MAC and id; files/<path> is read out of raw.tar.gz (nothing is extracted on the stick).
 */
import express from "express";
import { ReconError } from "../../lib/errors.js";
import type { Store } from "../store/store.js";
import { macParam } from "./request-rules.js";
import type { TransferLog } from "./transfers.js";

export interface FileRouteDeps {
  store: Store;
  transfers: Pick<TransferLog, "track">;
}

export function createFileRouter(deps: FileRouteDeps): express.Router {
  const { store } = deps;
  const router = express.Router();

  router.get("/nodes/:mac/:id/*path", deps.transfers.track("nodes"), async (req, res) => {
    const params = req.params as { mac: string; id: string; path: string[] };
    const mac = macParam(params.mac);
    const dir = await store.uploadDir(mac, params.id);
    if (dir === undefined) throw new ReconError("NOT_FOUND", `no upload ${params.id.slice(0, 60)} for ${mac}`);
    const path = params.path.join("/");
    if (params.path[0] === "files" && params.path.length > 1) {
      const inner = params.path.slice(1).join("/");
      const content = await store.readUploadFile(mac, params.id, inner);
      if (content === undefined) throw new ReconError("NOT_FOUND", `no file ${inner.slice(0, 120)} in upload ${params.id}`);
      // Hardware strings are untrusted: never let a browser render an upload as HTML.
      res.set({ "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'", "Content-Disposition": "inline" });
      res.type(inner.endsWith(".json") ? "application/json" : "text/plain").send(content);
      return;
    }
    await new Promise<void>((resolve, reject) =>
      res.sendFile(path, { root: dir, dotfiles: "deny", headers: { "X-Content-Type-Options": "nosniff" } }, (error) => {
        if (error === undefined || res.headersSent) resolve();
        else reject(new ReconError("NOT_FOUND", `no file ${path.slice(0, 120)} in upload ${params.id}`, { cause: error }));
      }),
    );
  });

  return router;
}
