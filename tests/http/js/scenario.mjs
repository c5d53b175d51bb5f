// Drives `sediment run` with Chroma's official JavaScript client (the `chromadb` npm package).
// Usage: node scenario.mjs <port> <collection-name>. Exits non-zero, with the failure, on any mismatch.
import assert from "node:assert/strict";
import { ChromaClient } from "chromadb";

const [port, name] = process.argv.slice(2);
const client = new ChromaClient({ host: "127.0.0.1", port: Number(port), ssl: false });

async function rejects(promise, errorName, fragment) {
  try {
    await promise;
  } catch (error) {
    if (errorName) assert.equal(error.name, errorName, `${error.name}: ${error.message}`);
    if (fragment) assert.match(error.message, new RegExp(fragment));
    return error;
  }
  assert.fail(`expected ${errorName} (${fragment})`);
}

const steps = [];
const step = (label) => steps.push(label);

assert.ok((await client.heartbeat()) > 0);
step("heartbeat");

const col = await client.createCollection({ name, metadata: { topic: "fruit" }, embeddingFunction: null });
assert.equal(col.name, name);
await col.add({
  ids: ["a", "b", "c", "d"],
  embeddings: [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]],
  metadatas: [{ color: "red", n: 1 }, { color: "yellow", n: 2 }, { color: "red", n: 3 }, { n: 4 }],
  documents: ["apple pie", "banana split", "cherry tart", "date"],
});
assert.equal(await col.count(), 4);
step("add, count");

let got = await col.get({ where: { color: "red" } });
assert.deepEqual(got.ids, ["a", "c"]);
assert.deepEqual(got.documents, ["apple pie", "cherry tart"]);
got = await col.get({ whereDocument: { $contains: "an" }, include: ["documents"] });
assert.deepEqual(got.ids, ["b"]);
got = await col.get({ ids: ["a"], include: ["embeddings", "metadatas"] });
assert.deepEqual(got.embeddings, [[1, 0, 0]]);
assert.deepEqual(got.metadatas, [{ color: "red", n: 1 }]);
step("get with where, whereDocument, include");

let res = await col.query({ queryEmbeddings: [[1, 0, 0]], nResults: 2 });
assert.deepEqual(res.ids, [["a", "d"]]);
assert.deepEqual(res.distances[0].map((d) => Math.round(d * 1e5) / 1e5), [0, 1]);
res = await col.query({ queryEmbeddings: [[0.9, 0.1, 0]], nResults: 2, where: { n: { $gte: 2 } }, include: ["distances"] });
assert.deepEqual(res.ids, [["d", "b"]]);
res = await col.query({ queryEmbeddings: [[0, 0, 1]], nResults: 3, whereDocument: { $contains: "tart" }, include: ["documents"] });
assert.deepEqual(res.documents, [["cherry tart"]]);
step("query with where, whereDocument, include");

await col.update({ ids: ["a"], metadatas: [{ n: 10 }], documents: ["apple crumble"], embeddings: [[1, 0, 0.1]] });
await col.upsert({ ids: ["b", "e"], embeddings: [[0, 1, 0], [0, 0, 2]], metadatas: [{ color: "green" }, { n: 5 }], documents: ["blueberry", "elderberry"] });
got = await col.get({ ids: ["a", "b", "e"] });
assert.deepEqual(got.documents, ["apple crumble", "blueberry", "elderberry"]);
assert.deepEqual(got.metadatas, [{ color: "red", n: 10 }, { color: "green", n: 2 }, { n: 5 }]);
step("update, upsert");

await col.delete({ ids: ["d"] });
await col.delete({ where: { color: "red" } });
assert.equal(await col.count(), 2);
step("delete");

await col.modify({ name: `${name}-renamed`, metadata: { topic: "berries" } });
const again = await client.getCollection({ name: `${name}-renamed`, embeddingFunction: null });
assert.deepEqual(again.metadata, { topic: "berries" });
assert.ok((await client.listCollections()).some((c) => c.name === `${name}-renamed`));
const before = await client.countCollections();
step("modify, list, count collections");

await rejects(client.getCollection({ name: "no-such-collection" }), "ChromaNotFoundError", null);
await rejects(col.add({ ids: ["x"], embeddings: [[1, 2]] }), null, "dimension");
await rejects(client.createCollection({ name: "x!", embeddingFunction: null }), null, "Expected a name");
await rejects(client.createCollection({ name: `${name}-renamed`, embeddingFunction: null }), "ChromaUniqueError", "already exists");
assert.equal(await col.count(), 2);
step("errors: missing collection, dimension mismatch, invalid name, duplicate create");

await client.deleteCollection({ name: `${name}-renamed` });
assert.equal(await client.countCollections(), before - 1);
step("delete collection");

console.log(JSON.stringify({ ok: true, steps }));
