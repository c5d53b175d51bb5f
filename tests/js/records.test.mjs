// Records through Chroma's JS client: add/get/update/upsert/delete, query with filters and
// include, count and peek, with explicit embeddings (sent base64-encoded, as the client does when
// the server's pre-flight checks allow it) and with a client-side embedding function.
import assert from "node:assert/strict";
import { test } from "node:test";
import { client, collectionOf, LetterCountEmbedding, plain, rounded, unique } from "./helpers.mjs";

const FRUIT = {
  ids: ["a", "b", "c", "d"],
  embeddings: [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]],
  metadatas: [
    { color: "red", n: 1, price: 1.5, ripe: true },
    { color: "yellow", n: 2, price: 0.25, ripe: false },
    { color: "red", n: 3, price: 4.0, ripe: true },
    { n: 4 },
  ],
  documents: ["apple pie", "banana split", "cherry tart", "date"],
};

const fruitCollection = () => collectionOf(FRUIT, "rec");

test("add then get returns documents, metadatas and float32 embeddings; count and peek", async () => {
  const col = await fruitCollection();
  assert.equal(await col.count(), 4);
  const got = await col.get({ include: ["documents", "metadatas", "embeddings"] });
  assert.deepEqual(got.ids, FRUIT.ids);
  assert.deepEqual(got.documents, FRUIT.documents);
  assert.deepEqual(got.metadatas, FRUIT.metadatas);
  assert.deepEqual(rounded(got.embeddings), FRUIT.embeddings);
  assert.deepEqual(got.include.sort(), ["documents", "embeddings", "metadatas"]);
  const rows = got.rows();
  assert.deepEqual(plain(rows[0]), { id: "a", document: "apple pie", embedding: [1, 0, 0], metadata: FRUIT.metadatas[0] });
  const peek = await col.peek({ limit: 2 });
  assert.deepEqual(peek.ids, ["a", "b"]);
  const page = await col.get({ limit: 2, offset: 1, include: [] });
  assert.deepEqual(page.ids, ["b", "c"]);
  assert.deepEqual(page.documents, []);
});

test("get with where operators, whereDocument and ids", async () => {
  const col = await fruitCollection();
  const ids = async (args) => (await col.get({ ...args, include: [] })).ids.sort();
  assert.deepEqual(await ids({ where: { color: "red" } }), ["a", "c"]);
  assert.deepEqual(await ids({ where: { n: { $gt: 1 } } }), ["b", "c", "d"]);
  assert.deepEqual(await ids({ where: { price: { $lte: 1.5 } } }), ["a", "b"]);
  assert.deepEqual(await ids({ where: { color: { $ne: "red" } } }), ["b", "d"]);
  assert.deepEqual(await ids({ where: { color: { $in: ["yellow", "green"] } } }), ["b"]);
  assert.deepEqual(await ids({ where: { n: { $nin: [1, 2] } } }), ["c", "d"]);
  assert.deepEqual(await ids({ where: { ripe: true } }), ["a", "c"]);
  assert.deepEqual(await ids({ where: { $and: [{ color: "red" }, { n: { $gte: 2 } }] } }), ["c"]);
  assert.deepEqual(await ids({ where: { $or: [{ color: "yellow" }, { n: 4 }] } }), ["b", "d"]);
  assert.deepEqual(await ids({ whereDocument: { $contains: "an" } }), ["b"]);
  assert.deepEqual(await ids({ whereDocument: { $not_contains: "a" } }), []);
  assert.deepEqual(await ids({ whereDocument: { $regex: "^[a-c].* (pie|tart)$" } }), ["a", "c"]);
  assert.deepEqual(await ids({ whereDocument: { $or: [{ $contains: "pie" }, { $contains: "date" }] } }), ["a", "d"]);
  assert.deepEqual(await ids({ ids: ["d", "a", "zz"], where: { n: { $lt: 4 } } }), ["a"]);
});

test("query: nearest neighbours with where, whereDocument, include and several query embeddings", async () => {
  const col = await fruitCollection();
  let res = await col.query({ queryEmbeddings: [[1, 0, 0]], nResults: 2 });
  assert.deepEqual(res.ids, [["a", "d"]]);
  assert.deepEqual(rounded(res.distances), [[0, 1]]);
  assert.deepEqual(res.documents, [["apple pie", "date"]]);
  assert.deepEqual(res.metadatas[0][1], { n: 4 });
  res = await col.query({ queryEmbeddings: [[0.9, 0.1, 0]], nResults: 2, where: { n: { $gte: 2 } }, include: ["distances"] });
  assert.deepEqual(res.ids, [["d", "b"]]);
  assert.deepEqual(res.documents, []);
  res = await col.query({ queryEmbeddings: [[0, 0, 1]], nResults: 3, whereDocument: { $contains: "tart" }, include: ["documents", "embeddings"] });
  assert.deepEqual(res.documents, [["cherry tart"]]);
  assert.deepEqual(rounded(res.embeddings), [[[0, 0, 1]]]);
  res = await col.query({ queryEmbeddings: [[0, 1, 0], [0, 0, 1]], nResults: 1, include: ["metadatas"] });
  assert.deepEqual(res.ids, [["b"], ["c"]]);
  assert.deepEqual(plain(res.rows()[1]), [{ id: "c", metadata: FRUIT.metadatas[2] }]);
  res = await col.query({ queryEmbeddings: [[1, 0, 0]], ids: ["b", "c"], nResults: 5, include: [] });
  assert.deepEqual(res.ids[0].sort(), ["b", "c"]);
  // nResults 0 reaches the server (the client only checks a truthy value): empty lists, as Chroma answers.
  res = await col.query({ queryEmbeddings: [[1, 0, 0], [0, 1, 0]], nResults: 0 });
  assert.deepEqual(res.ids, [[], []]);
  assert.deepEqual(res.distances, [[], []]);
});

test("update and upsert change only what they name; upsert inserts new ids", async () => {
  const col = await fruitCollection();
  await col.update({ ids: ["a"], metadatas: [{ n: 10 }], documents: ["apple crumble"], embeddings: [[1, 0, 0.5]] });
  await col.upsert({
    ids: ["b", "e"],
    embeddings: [[0, 1, 0], [0, 0, 2]],
    metadatas: [{ color: "green" }, { n: 5 }],
    documents: ["blueberry", "elderberry"],
  });
  const got = await col.get({ ids: ["a", "b", "e"], include: ["documents", "metadatas", "embeddings"] });
  assert.deepEqual(got.documents, ["apple crumble", "blueberry", "elderberry"]);
  // Chroma merges metadata on update/upsert: keys not named keep their values.
  assert.deepEqual(got.metadatas, [
    { color: "red", n: 10, price: 1.5, ripe: true },
    { color: "green", n: 2, price: 0.25, ripe: false },
    { n: 5 },
  ]);
  assert.deepEqual(rounded(got.embeddings), [[1, 0, 0.5], [0, 1, 0], [0, 0, 2]]);
  assert.equal(await col.count(), 5);
});

test("an empty metadata (what the client sends for {key: null}: it drops null values) changes nothing, as in Chroma", async () => {
  const col = await fruitCollection();
  await col.update({ ids: ["c"], metadatas: [{ color: null }] });
  assert.deepEqual((await col.get({ ids: ["c"] })).metadatas, [FRUIT.metadatas[2]]);
  await col.upsert({ ids: ["a", "new"], metadatas: [{ n: null }, { x: null }], embeddings: [[1, 0, 0], [1, 0, 1]] });
  await col.add({ ids: ["empty"], metadatas: [{ x: null }], embeddings: [[0, 1, 1]] });
  const got = await col.get({ ids: ["a", "new", "empty"], include: ["metadatas"] });
  assert.deepEqual(got.metadatas, [FRUIT.metadatas[0], null, null]);
});

test("delete by ids, by where (with a limit) and by whereDocument; the answer counts what was deleted", async () => {
  const col = await fruitCollection();
  assert.deepEqual(await col.delete({ ids: ["d"] }), { deleted: 1 });
  assert.equal(await col.count(), 3);
  assert.deepEqual(await col.delete({ where: { n: { $gte: 2 } }, limit: 1 }), { deleted: 1 });
  assert.equal(await col.count(), 2);
  await col.add({ ids: ["b"], embeddings: [[0, 1, 0]], metadatas: [FRUIT.metadatas[1]], documents: [FRUIT.documents[1]] });
  await col.upsert({ ids: ["c"], embeddings: [[0, 0, 1]], metadatas: [FRUIT.metadatas[2]], documents: [FRUIT.documents[2]] });
  await col.delete({ where: { color: "red" } });
  assert.deepEqual((await col.get()).ids, ["b"]);
  await col.delete({ whereDocument: { $contains: "banana" } });
  assert.equal(await col.count(), 0);
});

test("an embedding function embeds documents on add and texts on query, in the client", async () => {
  const chroma = client();
  const col = await chroma.createCollection({ name: unique("embed"), embeddingFunction: new LetterCountEmbedding() });
  await col.add({ ids: ["1", "2", "3"], documents: ["aaaa", "eeee", "iiii"], metadatas: [{ k: 1 }, { k: 2 }, { k: 3 }] });
  const got = await col.get({ ids: ["2"], include: ["embeddings"] });
  assert.deepEqual(got.embeddings, [[0, 4, 0, 0]]);
  const res = await col.query({ queryTexts: ["eee", "ii"], nResults: 1 });
  assert.deepEqual(res.ids, [["2"], ["3"]]);
  const filtered = await col.query({ queryTexts: ["eee"], nResults: 1, where: { k: { $ne: 2 } } });
  assert.deepEqual(filtered.ids[0].length, 1);
  assert.notEqual(filtered.ids[0][0], "2");
});

test("a collection handle by id works with precomputed embeddings", async () => {
  const chroma = client();
  const col = await chroma.createCollection({ name: unique("handle"), embeddingFunction: null });
  const handle = chroma.collection(col.id);
  await handle.add({ ids: ["h1", "h2"], embeddings: [[1, 1], [2, 2]], documents: ["one", "two"] });
  assert.equal(await handle.count(), 2);
  assert.deepEqual((await col.get({ include: ["documents"] })).documents, ["one", "two"]);
  const res = await handle.query({ queryEmbeddings: [[2, 2]], nResults: 1 });
  assert.deepEqual(res.ids, [["h2"]]);
});

test("a batch of 300 records in one add round-trips", async () => {
  const col = await client().createCollection({ name: unique("batch"), embeddingFunction: null });
  const ids = Array.from({ length: 300 }, (_, i) => `id-${String(i).padStart(3, "0")}`);
  const embeddings = ids.map((_, i) => [Math.sin(i), Math.cos(i), i / 300]);
  await col.add({ ids, embeddings, metadatas: ids.map((_, i) => ({ i })) });
  assert.equal(await col.count(), 300);
  const res = await col.query({ queryEmbeddings: [embeddings[123]], nResults: 1, include: ["metadatas"] });
  assert.deepEqual(res.ids, [["id-123"]]);
  assert.deepEqual(res.metadatas, [[{ i: 123 }]]);
});

test("uris round-trip through add, get and query; count takes a read level", async () => {
  const col = await client().createCollection({ name: unique("uris"), embeddingFunction: null });
  await col.add({ ids: ["u1", "u2"], embeddings: [[1, 0], [0, 1]], uris: ["s3://bucket/one.png", "file:///two.png"] });
  assert.deepEqual((await col.get({ include: ["uris"] })).uris, ["s3://bucket/one.png", "file:///two.png"]);
  const res = await col.query({ queryEmbeddings: [[0, 1]], nResults: 1, include: ["uris", "distances"] });
  assert.deepEqual(res.uris, [["file:///two.png"]]);
  assert.equal(await col.count({ readLevel: "index_only" }), 0);  // nothing compacted yet: the log tail is skipped
  assert.equal(await col.count({ readLevel: "index_and_wal" }), 2);
});
