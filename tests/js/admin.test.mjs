// Tenants and databases through the JS client's AdminClient, and a ChromaClient bound to them.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ChromaClientError, ChromaNotFoundError, ChromaUniqueError } from "chromadb";
import { adminClient, client, rejects, unique } from "./helpers.mjs";

test("create and get a tenant; a duplicate tenant is ChromaUniqueError, a missing one ChromaNotFoundError", async () => {
  const admin = adminClient();
  const tenant = unique("tenant");
  await admin.createTenant({ name: tenant });
  assert.equal(await admin.getTenant({ name: tenant }), tenant);
  await rejects(admin.createTenant({ name: tenant }), ChromaUniqueError, "already exists");
  await rejects(admin.getTenant({ name: unique("no-tenant") }), ChromaNotFoundError, "could not be found");
});

test("databases: create, get, list with paging, delete; errors name what is wrong", async () => {
  const admin = adminClient();
  const tenant = unique("tenant");
  await admin.createTenant({ name: tenant });
  for (const name of ["db-one", "db-two", "db-three"]) await admin.createDatabase({ name, tenant });
  const db = await admin.getDatabase({ name: "db-two", tenant });
  assert.equal(db.name, "db-two");
  assert.equal(db.tenant, tenant);
  assert.match(db.id, /^[0-9a-f-]{36}$/);
  const listed = await admin.listDatabases({ tenant });
  assert.deepEqual(listed.map((d) => d.name).sort(), ["db-one", "db-three", "db-two"]);
  assert.equal((await admin.listDatabases({ tenant, limit: 2 })).length, 2);
  assert.equal((await admin.listDatabases({ tenant, limit: 2, offset: 2 })).length, 1);
  await rejects(admin.createDatabase({ name: "db-one", tenant }), ChromaUniqueError, "already exists");
  await admin.deleteDatabase({ name: "db-one", tenant });
  await rejects(admin.getDatabase({ name: "db-one", tenant }), ChromaNotFoundError, "could not be found");
  // Chroma's HTTP server checks a database name with the collection-name rule, in these words.
  await rejects(admin.createDatabase({ name: "x", tenant }), ChromaClientError,
    "Expected a name containing 3-512 characters from \\[a-zA-Z0-9._-\\], starting and ending with a character in \\[a-zA-Z0-9\\]. Got: x");
  await rejects(admin.createDatabase({ name: "db..two", tenant }), ChromaClientError, "two consecutive periods");
  await rejects(admin.createDatabase({ name: "db-four", tenant: unique("no-tenant") }), ChromaNotFoundError);
});

test("collections live in their tenant and database, isolated from the default ones", async () => {
  const admin = adminClient();
  const tenant = unique("tenant");
  await admin.createTenant({ name: tenant });
  await admin.createDatabase({ name: "main", tenant });
  await admin.createDatabase({ name: "other", tenant });
  const main = client({ tenant, database: "main" });
  const other = client({ tenant, database: "other" });
  const name = unique("shared-name");
  const inMain = await main.createCollection({ name, embeddingFunction: null });
  const inOther = await other.createCollection({ name, embeddingFunction: null });
  assert.notEqual(inMain.id, inOther.id);
  assert.equal(inMain.tenant, tenant);
  assert.equal(inMain.database, "main");
  await inMain.add({ ids: ["m"], embeddings: [[1, 2]] });
  assert.equal(await inOther.count(), 0);
  assert.deepEqual((await main.listCollections()).map((c) => c.name), [name]);
  await rejects(client().getCollection({ name }), ChromaNotFoundError);
  const byCrn = await client().getCollectionByCrn(`${tenant}:main:${name}`);
  assert.equal(byCrn.id, inMain.id);
  await rejects(client({ tenant, database: "missing" }).listCollections(), ChromaNotFoundError);
});

test("a client without tenant and database takes them from the server's identity", async () => {
  const chroma = client({ tenant: "", database: "" });
  const collections = await chroma.listCollections({ limit: 1 });
  assert.ok(Array.isArray(collections));
  assert.equal(chroma.tenant, "default_tenant");
  assert.equal(chroma.database, "default_database");
});
