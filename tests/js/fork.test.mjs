// `collection.fork({ name })` and `forkCount()` (issue 19): a copy-on-write fork, independent of
// its source afterwards. Run by tests/js/test_js_client.py on its own, so that it can be marked
// expected-to-fail while the server answers the fork routes with 501.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ChromaUniqueError } from "chromadb";
import { client, rejects, unique } from "./helpers.mjs";

test("fork copies the records; later writes to either side stay on that side; forkCount counts", async () => {
  const chroma = client();
  const name = unique("src");
  const source = await chroma.createCollection({ name, metadata: { origin: "source" }, embeddingFunction: null });
  await source.add({ ids: ["a", "b"], embeddings: [[1, 0], [0, 1]], documents: ["alpha", "beta"], metadatas: [{ n: 1 }, { n: 2 }] });

  const fork = await source.fork({ name: `${name}-fork` });
  assert.equal(fork.name, `${name}-fork`);
  assert.notEqual(fork.id, source.id);
  assert.deepEqual(fork.metadata, { origin: "source" });
  assert.deepEqual((await fork.get({ include: ["documents", "metadatas"] })).documents, ["alpha", "beta"]);

  await fork.add({ ids: ["c"], embeddings: [[1, 1]] });
  await source.delete({ ids: ["a"] });
  assert.deepEqual((await fork.get({ include: [] })).ids, ["a", "b", "c"]);
  assert.deepEqual((await source.get({ include: [] })).ids, ["b"]);
  assert.deepEqual((await fork.query({ queryEmbeddings: [[1, 0]], nResults: 1 })).ids, [["a"]]);

  const fetched = await chroma.getCollection({ name: `${name}-fork` });
  assert.equal(fetched.id, fork.id);
  assert.equal(await source.forkCount(), 1);
  assert.equal(await fork.forkCount(), 1);
  await rejects(source.fork({ name: `${name}-fork` }), ChromaUniqueError);
});
