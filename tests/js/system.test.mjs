// Heartbeat, version, pre-flight checks, identity and reset through Chroma's JS client.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ChromaForbiddenError } from "chromadb";
import { client, rejects } from "./helpers.mjs";

test("heartbeat answers a nanosecond timestamp near now", async () => {
  const beat = await client().heartbeat();
  assert.equal(typeof beat, "number");
  assert.ok(Math.abs(beat / 1e6 - Date.now()) < 60_000, `heartbeat ${beat} is not near now`);
});

test("version is the Chroma API version SedimentDB reproduces", async () => {
  assert.equal(await client().version(), "1.5.9");
});

test("pre-flight checks give the batch limit and base64 support the client uses for writes", async () => {
  const chroma = client();
  assert.equal(await chroma.getMaxBatchSize(), 5461);
  assert.equal(await chroma.supportsBase64Encoding(), true);
});

test("identity of an open server is the default tenant with every database", async () => {
  const identity = await client().getUserIdentity();
  assert.equal(identity.tenant, "default_tenant");
  assert.ok(Array.isArray(identity.databases) && identity.databases.length > 0);
  assert.equal(typeof identity.user_id, "string");
});

test("reset is refused while the server does not allow it", async () => {
  await rejects(client().reset(), ChromaForbiddenError, "permission");
});
