// Token auth on `sediment run` (docs/SERVER.md, Auth) through the JS client's `headers` option.
// The runner starts a second server with a users file: an unrestricted token and one limited to
// tenant `acme`, database `main`.
import assert from "node:assert/strict";
import { test } from "node:test";
import { AdminClient, ChromaClient, ChromaForbiddenError, ChromaUnauthorizedError } from "chromadb";
import { portOf, rejects, unique } from "./helpers.mjs";

const PORT = portOf("SEDIMENT_AUTH_PORT");
const TOKEN = process.env.SEDIMENT_TOKEN;
const SCOPED_TOKEN = process.env.SEDIMENT_SCOPED_TOKEN;
assert.ok(TOKEN && SCOPED_TOKEN, "SEDIMENT_TOKEN and SEDIMENT_SCOPED_TOKEN must be set by tests/js/test_js_client.py");

const server = { host: "127.0.0.1", port: PORT, ssl: false };
const withHeaders = (headers, args = {}) => new ChromaClient({ ...server, headers, ...args });

test("heartbeat and version stay open; other routes need a token", async () => {
  const anonymous = withHeaders(undefined);
  assert.ok((await anonymous.heartbeat()) > 0);
  assert.equal(await anonymous.version(), "1.5.9");
  const error = await rejects(anonymous.listCollections(), ChromaUnauthorizedError, "Unauthorized");
  assert.equal(error.name, "ChromaAuthError");
  await rejects(withHeaders({ "x-chroma-token": "not-the-token" }).listCollections(), ChromaForbiddenError);
});

test("the token works in X-Chroma-Token and as a Bearer token, and its identity is unrestricted", async () => {
  for (const headers of [{ "x-chroma-token": TOKEN }, { Authorization: `Bearer ${TOKEN}` }]) {
    const chroma = withHeaders(headers);
    const name = unique("auth");
    const col = await chroma.createCollection({ name, embeddingFunction: null });
    await col.add({ ids: ["a"], embeddings: [[1, 2]] });
    assert.equal(await col.count(), 1);
    await chroma.deleteCollection({ name });
  }
  const identity = await withHeaders({ "x-chroma-token": TOKEN }).getUserIdentity();
  assert.equal(identity.user_id, "ops");
});

test("the deprecated auth option of the client still sends the token", async () => {
  const chroma = new ChromaClient({ ...server, auth: { provider: "token", credentials: TOKEN, tokenHeaderType: "X_CHROMA_TOKEN" } });
  assert.ok(Array.isArray(await chroma.listCollections()));
});

test("a token limited to a tenant and database: identity gives the path; elsewhere is ChromaForbiddenError", async () => {
  const admin = new AdminClient({ ...server, headers: { "x-chroma-token": TOKEN } });
  try {
    await admin.createTenant({ name: "acme" });
    await admin.createDatabase({ name: "main", tenant: "acme" });
  } catch (error) {
    if (error.name !== "ChromaUniqueError") throw error;  // a rerun against the same server
  }
  const identity = await withHeaders({ "x-chroma-token": SCOPED_TOKEN }).getUserIdentity();
  assert.deepEqual(identity, { user_id: "acme-app", tenant: "acme", databases: ["main"] });

  // With no tenant and database given, the client asks the server who it is, as with Chroma Cloud keys.
  const scoped = withHeaders({ "x-chroma-token": SCOPED_TOKEN }, { tenant: "", database: "" });
  const col = await scoped.createCollection({ name: unique("scoped"), embeddingFunction: null });
  assert.equal(col.tenant, "acme");
  assert.equal(col.database, "main");
  await col.add({ ids: ["a"], embeddings: [[1, 0]] });
  assert.equal(await col.count(), 1);

  await rejects(withHeaders({ "x-chroma-token": SCOPED_TOKEN }).listCollections(), ChromaForbiddenError);
  const scopedAdmin = new AdminClient({ ...server, headers: { "x-chroma-token": SCOPED_TOKEN } });
  await rejects(scopedAdmin.createTenant({ name: unique("tenant") }), ChromaForbiddenError);
});
