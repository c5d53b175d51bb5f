// `collection.search(...)` with the JS client's Search builder over dense Knn (docs/SEARCH.md):
// where with K, Knn limit/default/returnRank, Rrf, rank arithmetic, groupBy, limit/offset, select,
// batches, read levels, rows(), text queries embedded by the client, and refused expressions.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ChromaClientError, GroupBy, K, Knn, MinK, Rrf, Search, Val } from "chromadb";
import { client, collectionOf, LetterCountEmbedding, plain, rounded, unique } from "./helpers.mjs";

const DOCS = {
  ids: ["p1", "p2", "p3", "p4", "p5", "p6"],
  embeddings: [[1, 0], [0.9, 0.1], [0.5, 0.5], [0.1, 0.9], [0, 1], [-1, 0]],
  metadatas: [
    { category: "science", year: 2021, author: "ann" },
    { category: "science", year: 2019, author: "bob" },
    { category: "art", year: 2022, author: "ann" },
    { category: "science", year: 2023, author: "cy" },
    { category: "art", year: 2020, author: "bob" },
    { category: "history", year: 2018, author: "cy" },
  ],
  documents: ["neural networks", "gradient descent", "colour theory", "protein folding", "oil painting", "roman roads"],
};

const papers = () => collectionOf(DOCS, "search");

test("dense Knn with a where filter, limit and select", async () => {
  const col = await papers();
  const search = new Search()
    .where(K("category").eq("science").and(K("year").gte(2020)))
    .rank(Knn({ query: [1, 0], limit: 10 }))
    .limit(5)
    .select(K.DOCUMENT, K.SCORE, "year");
  const result = await col.search(search);
  assert.deepEqual(result.ids, [["p1", "p4"]]);
  assert.deepEqual(result.documents, [["neural networks", "protein folding"]]);
  assert.deepEqual(rounded(result.scores), [[0, 1.62]]);  // squared L2
  assert.deepEqual(result.metadatas, [[{ year: 2021 }, { year: 2023 }]]);
  assert.deepEqual(result.embeddings, [null]);
  const rows = result.rows();
  assert.deepEqual(plain(rows[0][0]), { id: "p1", document: "neural networks", metadata: { year: 2021 }, score: 0 });
});

test("no rank: filtered records in insertion order, paged by limit and offset, selectAll", async () => {
  const col = await papers();
  const result = await col.search(new Search().where(K("author").isIn(["ann", "bob"])).limit(2, 1).selectAll());
  assert.deepEqual(result.ids, [["p2", "p3"]]);
  assert.deepEqual(result.documents, [["gradient descent", "colour theory"]]);
  assert.deepEqual(rounded(result.embeddings), [[[0.9, 0.1], [0.5, 0.5]]]);
  assert.deepEqual(result.metadatas[0][0], DOCS.metadatas[1]);
});

test("#id and #document filters", async () => {
  const col = await papers();
  let result = await col.search(new Search().where(K.ID.notIn(["p1", "p2"]).and(K.DOCUMENT.contains("o"))).limit(10));
  assert.deepEqual(result.ids, [["p3", "p4", "p5", "p6"]]);
  result = await col.search(new Search().where(K.DOCUMENT.regex("^[a-z]+ (roads|painting)$")).limit(10));
  assert.deepEqual(result.ids, [["p5", "p6"]]);
});

test("Rrf over two Knns with returnRank, weights and a default", async () => {
  const col = await papers();
  const rank = Rrf({
    ranks: [
      Knn({ query: [1, 0], limit: 3, returnRank: true }),
      Knn({ query: [0, 1], limit: 3, returnRank: true, default: 10 }),
    ],
    weights: [0.7, 0.3],
    k: 60,
  });
  const result = await col.search(new Search().rank(rank).limit(3).select(K.SCORE));
  // Only the first Knn's top 3 are candidates (the second has a default): p1, p2, p3 rank 0, 1, 2
  // there; p3 also ranks 2 in the second, the others get its default 10. Lower scores first.
  assert.deepEqual(result.ids, [["p3", "p1", "p2"]]);
  const expected = [
    -(0.7 / 62 + 0.3 / 62),
    -(0.7 / 60 + 0.3 / 70),
    -(0.7 / 61 + 0.3 / 70),
  ];
  assert.deepEqual(rounded(result.scores[0], 6), rounded(expected, 6));
});

test("rank arithmetic: a Knn distance scaled and shifted", async () => {
  const col = await papers();
  const rank = Knn({ query: [0, 1], limit: 2 }).multiply(2).add(Val(1));
  const result = await col.search(new Search().rank(rank).select(K.SCORE));
  assert.deepEqual(result.ids, [["p5", "p4"]]);
  assert.deepEqual(rounded(result.scores), [[1, 1.04]]);
});

test("groupBy keeps the best k per group", async () => {
  const col = await papers();
  const search = new Search()
    .rank(Knn({ query: [1, 0], limit: 6 }))
    .groupBy(new GroupBy([K("category")], new MinK([K.SCORE], 1)))
    .select(K.SCORE, "category");
  const result = await col.search(search);
  assert.deepEqual(result.ids, [["p1", "p3", "p6"]]);
  assert.deepEqual(result.metadatas[0].map((m) => m.category), ["science", "art", "history"]);
});

test("a batch of searches in one call, plain-object searches and a read level", async () => {
  const col = await papers();
  const result = await col.search([
    new Search().rank(Knn({ query: [1, 0], limit: 1 })),
    { where: { category: "art" }, limit: 5 },
    new Search().where(K("year").lt(2000)),
  ], { readLevel: "index_and_bounded_wal" });  // the default bound (1000 log records) covers these writes
  assert.deepEqual(result.ids, [["p1"], ["p3", "p5"], []]);
  const indexOnly = await col.search(new Search().rank(Knn({ query: [1, 0], limit: 1 })), { readLevel: "index_only" });
  assert.deepEqual(indexOnly.ids, [[]]);  // nothing compacted yet: INDEX_ONLY skips the log tail
  const fresh = await col.search(new Search().rank(Knn({ query: [-1, 0], limit: 1 })), { readLevel: "index_and_wal" });
  assert.deepEqual(fresh.ids, [["p6"]]);
});

test("a text query is embedded by the collection's embedding function in the client", async () => {
  const chroma = client();
  const col = await chroma.createCollection({ name: unique("search-ef"), embeddingFunction: new LetterCountEmbedding() });
  await col.add({ ids: ["a", "e", "i"], documents: ["aaa", "eee", "iii"] });
  const result = await col.search(new Search().rank(Knn({ query: "eeee", limit: 2 })).select(K.DOCUMENT));
  assert.equal(result.ids[0][0], "e");
  assert.deepEqual(result.documents[0][0], "eee");
});

test("a malformed search is refused by the server with Chroma's message", async () => {
  const col = await papers();
  await assert.rejects(col.search({ rank: { $knn: { query: [1, 0], limit: 0 } } }),
    (error) => error instanceof ChromaClientError && /limit must be positive/.test(error.message));
  await assert.rejects(col.search({ rank: { $pow: [{ $val: 1 }] } }),
    (error) => error instanceof ChromaClientError && /Unknown rank operator: \$pow/.test(error.message));
  await assert.rejects(col.search(new Search().rank(Knn({ query: [1, 0, 0] }))),
    (error) => error instanceof ChromaClientError && /dimension/.test(error.message));
});
