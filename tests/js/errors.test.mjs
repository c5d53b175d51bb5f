// Failures reach the JS client as its own error classes, with the server's message where it shows one.
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { test } from "node:test";
import { ChromaClientError, ChromaConnectionError, ChromaNotFoundError, ChromaServerError, ChromaUniqueError,
  ChromaClient } from "chromadb";
import { client, rejects, unique } from "./helpers.mjs";

test("a duplicate collection name is ChromaUniqueError", async () => {
  const chroma = client();
  const name = unique("dup");
  await chroma.createCollection({ name, embeddingFunction: null });
  await rejects(chroma.createCollection({ name, embeddingFunction: null }), ChromaUniqueError, "already exists");
  await chroma.deleteCollection({ name });
});

test("a missing collection is ChromaNotFoundError for get, getById, delete and modify", async () => {
  const chroma = client();
  await rejects(chroma.getCollection({ name: "no-such-collection" }), ChromaNotFoundError);
  await rejects(chroma.getCollectionById("00000000-0000-4000-8000-000000000000"), ChromaNotFoundError);
  await rejects(chroma.deleteCollection({ name: "no-such-collection" }), ChromaNotFoundError);
  const name = unique("gone");
  const col = await chroma.createCollection({ name, embeddingFunction: null });
  await chroma.deleteCollection({ name });
  await rejects(col.count(), ChromaNotFoundError);
  await rejects(col.add({ ids: ["a"], embeddings: [[1]] }), ChromaNotFoundError);
  await rejects(col.modify({ metadata: { a: 1 } }), ChromaNotFoundError);
});

test("bad input is ChromaClientError carrying the server's message", async () => {
  const chroma = client();
  const col = await chroma.createCollection({ name: unique("bad"), embeddingFunction: null });
  await col.add({ ids: ["a"], embeddings: [[1, 2, 3]] });
  await rejects(col.add({ ids: ["x"], embeddings: [[1, 2]] }), ChromaClientError, "dimension");
  await rejects(col.query({ queryEmbeddings: [[1, 2]] }), ChromaClientError, "dimension");
  await rejects(chroma.createCollection({ name: "x!", embeddingFunction: null }), ChromaClientError,
    "Expected a name containing 3-512 characters");
  await rejects(chroma.createCollection({ name: "a..b", embeddingFunction: null }), ChromaClientError,
    "two consecutive periods");
  // The client sends embeddings as base64 float32, where NaN can travel: refused in Chroma's words.
  await rejects(col.add({ ids: ["nan"], embeddings: [[1, NaN, 2]] }), ChromaClientError,
    "Non-finite float value at embedding index 1: NaN");
  await rejects(col.upsert({ ids: ["inf"], embeddings: [[-Infinity, 1, 2]] }), ChromaClientError,
    "Non-finite float value at embedding index 0: -inf");
  await rejects(col.get({ whereDocument: { $regex: "(?=x)" } }), ChromaClientError, "Regex");
  await rejects(col.modify({ name: "no" }), ChromaClientError, "Expected a name");
  assert.equal(await col.count(), 1);
});

test("a server that is not there is ChromaConnectionError", async () => {
  // A port the OS just handed out and that was closed again: nothing listens there.
  const probe = createServer();
  await new Promise((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  const nowhere = new ChromaClient({ host: "127.0.0.1", port, ssl: false });
  await rejects(nowhere.heartbeat(), ChromaConnectionError);
});

test("a query by an id that has no vector is ChromaServerError with Chroma's message", async () => {
  const col = await client().createCollection({ name: unique("noid"), embeddingFunction: null });
  await col.add({ ids: ["a"], embeddings: [[1, 0]] });
  const error = await rejects(col.query({ queryEmbeddings: [[1, 0]], ids: ["missing"] }), ChromaServerError);
  assert.match(error.message, /Error finding id/);
});
