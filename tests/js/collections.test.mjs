// Collections through Chroma's JS client: create/get/list/count/modify/delete, with metadata,
// configuration and an embedding function the client rebuilds from the stored configuration.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ChromaClientError, ChromaNotFoundError, ChromaValueError, Schema, StringInvertedIndexConfig,
  VectorIndexConfig } from "chromadb";
import { adminClient, client, LetterCountEmbedding, rejects, unique } from "./helpers.mjs";

test("create with metadata and HNSW configuration; get by name, id and CRN return the same collection", async () => {
  const chroma = client();
  const name = unique("coll");
  const created = await chroma.createCollection({
    name,
    metadata: { team: "search", version: 2, public: true, ratio: 0.5 },
    configuration: { hnsw: { space: "cosine", ef_search: 40, ef_construction: 120, max_neighbors: 12 } },
    embeddingFunction: null,
  });
  assert.equal(created.name, name);
  assert.match(created.id, /^[0-9a-f-]{36}$/);
  assert.equal(created.tenant, "default_tenant");
  assert.equal(created.database, "default_database");
  assert.deepEqual(created.metadata, { team: "search", version: 2, public: true, ratio: 0.5 });
  assert.equal(created.configuration.hnsw.space, "cosine");
  assert.equal(created.configuration.hnsw.ef_search, 40);
  assert.equal(created.configuration.hnsw.ef_construction, 120);
  assert.equal(created.configuration.hnsw.max_neighbors, 12);
  assert.equal(created.embeddingFunction, undefined);

  for (const fetched of [
    await chroma.getCollection({ name }),
    await chroma.getCollectionById(created.id),
    await chroma.getCollectionByCrn(`default_tenant:default_database:${name}`),
  ]) {
    assert.equal(fetched.id, created.id);
    assert.equal(fetched.name, name);
    assert.deepEqual(fetched.metadata, created.metadata);
    assert.equal(fetched.configuration.hnsw.space, "cosine");
    assert.equal(fetched.configuration.hnsw.ef_search, 40);
  }
  await chroma.deleteCollection({ name });
});

test("the schema the server returns carries the configured space", async () => {
  const chroma = client();
  const name = unique("schema");
  const created = await chroma.createCollection({ name, configuration: { hnsw: { space: "ip" } }, embeddingFunction: null });
  const schema = created.schema;
  assert.ok(schema, "the client parsed the server's schema");
  assert.equal(schema.keys["#embedding"].floatList.vectorIndex.config.space, "ip");
  assert.equal(schema.keys["#document"].string.ftsIndex.enabled, true);
  await chroma.deleteCollection({ name });
});

test("the space given as legacy hnsw:space metadata is used", async () => {
  const chroma = client();
  const name = unique("legacy");
  const created = await chroma.createCollection({ name, metadata: { "hnsw:space": "ip" }, embeddingFunction: null });
  assert.equal(created.configuration.hnsw.space, "ip");
  await created.add({ ids: ["a", "b"], embeddings: [[1, 0], [2, 0]] });
  const res = await created.query({ queryEmbeddings: [[1, 0]], nResults: 2, include: ["distances"] });
  assert.deepEqual(res.ids, [["b", "a"]]);  // inner product prefers the longer vector
  assert.deepEqual(res.distances, [[-1, 0]]);
  await chroma.deleteCollection({ name });
});

test("a registered embedding function is stored in the configuration and rebuilt by getCollection", async () => {
  const chroma = client();
  const name = unique("ef");
  const created = await chroma.createCollection({ name, embeddingFunction: new LetterCountEmbedding({ letters: "abc" }) });
  assert.deepEqual(created.configuration.embedding_function,
    { type: "known", name: "sediment-letter-count", config: { letters: "abc" } });
  const fetched = await chroma.getCollection({ name });
  assert.ok(fetched.embeddingFunction instanceof LetterCountEmbedding);
  assert.equal(fetched.embeddingFunction.letters, "abc");
  await fetched.add({ ids: ["x"], documents: ["abcabc"] });
  const got = await fetched.get({ ids: ["x"], include: ["embeddings", "documents"] });
  assert.deepEqual(got.embeddings, [[2, 2, 2]]);
  await chroma.deleteCollection({ name });
});

test("getOrCreateCollection creates once and then returns the same collection", async () => {
  const chroma = client();
  const name = unique("goc");
  const first = await chroma.getOrCreateCollection({ name, metadata: { round: 1 }, embeddingFunction: null });
  const second = await chroma.getOrCreateCollection({ name, embeddingFunction: null });
  assert.equal(second.id, first.id);
  assert.deepEqual(second.metadata, { round: 1 });
  const [viaList] = await chroma.getCollections([name]);
  assert.equal(viaList.id, first.id);
  await chroma.deleteCollection({ name });
});

test("list and count collections, with limit and offset", async () => {
  const chroma = client({ database: unique("listdb") });
  // A database of its own, so other tests' collections do not show.
  const admin = adminClient();
  await admin.createDatabase({ name: chroma.database, tenant: "default_tenant" });
  const names = ["alpha", "bravo", "charlie", "delta"].map((n) => `${n}-${chroma.database.slice(-6)}`);
  for (const name of names) await chroma.createCollection({ name, embeddingFunction: null });
  assert.equal(await chroma.countCollections(), 4);
  const all = await chroma.listCollections();
  assert.deepEqual(all.map((c) => c.name).sort(), [...names].sort());
  const page1 = await chroma.listCollections({ limit: 2 });
  const page2 = await chroma.listCollections({ limit: 2, offset: 2 });
  assert.equal(page1.length, 2);
  assert.equal(page2.length, 2);
  assert.deepEqual([...page1, ...page2].map((c) => c.name).sort(), [...names].sort());
  assert.deepEqual(await chroma.listCollections({ offset: 4 }), []);
  await admin.deleteDatabase({ name: chroma.database, tenant: "default_tenant" });
});

test("modify renames, replaces metadata and reconfigures ef_search", async () => {
  const chroma = client();
  const name = unique("mod");
  const col = await chroma.createCollection({ name, metadata: { a: 1 }, embeddingFunction: null });
  await col.modify({ name: `${name}-new`, metadata: { b: "two" }, configuration: { hnsw: { ef_search: 77 } } });
  assert.equal(col.name, `${name}-new`);
  const fetched = await chroma.getCollection({ name: `${name}-new` });
  assert.equal(fetched.id, col.id);
  assert.deepEqual(fetched.metadata, { b: "two" });
  assert.equal(fetched.configuration.hnsw.ef_search, 77);
  await rejects(chroma.getCollection({ name }), ChromaNotFoundError, "could not be found");
  await chroma.deleteCollection({ name: `${name}-new` });
});

test("delete removes the collection and its records", async () => {
  const chroma = client();
  const name = unique("del");
  const col = await chroma.createCollection({ name, embeddingFunction: null });
  await col.add({ ids: ["a"], embeddings: [[1, 2, 3]] });
  const before = await chroma.countCollections();
  await chroma.deleteCollection({ name });
  assert.equal(await chroma.countCollections(), before - 1);
  await rejects(chroma.getCollection({ name }), ChromaNotFoundError, "could not be found");
  const again = await chroma.createCollection({ name, embeddingFunction: null });
  assert.equal(await again.count(), 0);
  await chroma.deleteCollection({ name });
});

test("without an embedding function argument: Chroma's default is named, nothing is downloaded, explicit embeddings work", async () => {
  const chroma = client();
  const name = unique("default-ef");
  // The client looks for the optional @chroma-core/default-embed package, warns that it is missing
  // and records the default function by name; it never fetches a model.
  const col = await chroma.createCollection({ name });
  assert.deepEqual(col.configuration.embedding_function, { name: "default", type: "known", config: {} });
  await col.add({ ids: ["a"], embeddings: [[0.5, 0.5]], documents: ["kept as text"] });
  assert.deepEqual((await col.get()).documents, ["kept as text"]);
  await rejects(col.add({ ids: ["b"], documents: ["needs embedding"] }), ChromaValueError, "No embedding function found");
  const fetched = await chroma.getCollection({ name });
  assert.equal(fetched.embeddingFunction, undefined);
  await chroma.deleteCollection({ name });
});

test("a Schema at create: the vector index's space and embedding function, and a key without an index", async () => {
  const chroma = client();
  const name = unique("schema-create");
  const schema = new Schema()
    .createIndex(new VectorIndexConfig({ space: "cosine", embeddingFunction: new LetterCountEmbedding() }))
    .deleteIndex(new StringInvertedIndexConfig(), "secret");
  const col = await chroma.createCollection({ name, schema });
  assert.equal(col.configuration.hnsw.space, "cosine");
  assert.equal(col.schema.keys.secret.string.stringInvertedIndex.enabled, false);
  await col.add({ ids: ["a", "b"], documents: ["aaa", "eee"], metadatas: [{ secret: "s", open: "o" }, { open: "p" }] });
  assert.deepEqual((await col.get({ where: { open: "o" } })).ids, ["a"]);
  // Chroma refuses a filter on a key whose index the schema disabled, in these words.
  await rejects(col.get({ where: { secret: "s" } }), ChromaClientError,
    "Cannot filter using metadata key 'secret' with type 'Str' because indexing is disabled");
  const fetched = await chroma.getCollection({ name });
  assert.ok(fetched.embeddingFunction instanceof LetterCountEmbedding);
  assert.deepEqual((await fetched.query({ queryTexts: ["ee"], nResults: 1 })).ids, [["b"]]);
  await chroma.deleteCollection({ name });
});

test("modify replaces the embedding function's configuration", async () => {
  const chroma = client();
  const name = unique("mod-ef");
  const col = await chroma.createCollection({ name, embeddingFunction: new LetterCountEmbedding() });
  await col.modify({ configuration: { embeddingFunction: new LetterCountEmbedding({ letters: "xyzw" }) } });
  const fetched = await chroma.getCollection({ name });
  assert.deepEqual(fetched.configuration.embedding_function,
    { name: "sediment-letter-count", type: "known", config: { letters: "xyzw" } });
  assert.equal(fetched.embeddingFunction.letters, "xyzw");
  await chroma.deleteCollection({ name });
});
