// Shared by the *.test.mjs files: where the servers are (tests/js/test_js_client.py starts them and
// passes their ports in the environment), a deterministic embedding function, and error checks.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { AdminClient, ChromaClient, registerEmbeddingFunction } from "chromadb";

/** The port of an environment variable the pytest runner sets; a clear failure when it is missing. */
export function portOf(variable) {
  const port = Number(process.env[variable]);
  assert.ok(Number.isInteger(port) && port > 0,
    `${variable} must hold the port of a running \`sediment run\` (tests/js/test_js_client.py sets it)`);
  return port;
}

export const PORT = portOf("SEDIMENT_PORT");

/** A client of the open server, on 127.0.0.1 (never localhost: it may resolve to ::1 first). */
export function client(args = {}) {
  return new ChromaClient({ host: "127.0.0.1", port: PORT, ssl: false, ...args });
}

/** An AdminClient (tenants and databases) of the open server. */
export function adminClient(args = {}) {
  return new AdminClient({ host: "127.0.0.1", port: PORT, ssl: false, ...args });
}

/** A collection (or tenant, database) name no other test uses. */
export function unique(prefix = "js") {
  return `${prefix}-${randomUUID().slice(0, 12)}`;
}

/** A new collection of the open server (no embedding function) holding a copy of `records`. */
export async function collectionOf(records, prefix) {
  const col = await client().createCollection({ name: unique(prefix), embeddingFunction: null });
  await col.add(structuredClone(records));
  return col;
}

/** Awaits a promise that must reject with an error of class `errorClass` whose message matches `fragment`. */
export async function rejects(promise, errorClass, fragment) {
  let error;
  try {
    await promise;
  } catch (caught) {
    error = caught;
  }
  assert.ok(error, `expected ${errorClass?.name ?? "an error"} matching ${fragment}, but the call succeeded`);
  if (errorClass) assert.ok(error instanceof errorClass, `expected ${errorClass.name}, got ${error.name}: ${error.message}`);
  if (fragment) assert.match(error.message, fragment instanceof RegExp ? fragment : new RegExp(fragment));
  return error;
}

/**
 * A deterministic 4-dimensional "embedding": counts of a few letters, so that texts sharing words
 * are near each other. It is registered with the client, so a collection created with it names it
 * in its configuration and `getCollection` rebuilds it from there, with no package to download.
 */
export class LetterCountEmbedding {
  constructor({ letters = "aeio" } = {}) {
    this.letters = letters;
    this.name = "sediment-letter-count";
  }

  static buildFromConfig(config) {
    return new LetterCountEmbedding(config);
  }

  getConfig() {
    return { letters: this.letters };
  }

  defaultSpace() {
    return "l2";
  }

  supportedSpaces() {
    return ["l2", "cosine", "ip"];
  }

  async generate(texts) {
    return texts.map((text) => [...this.letters].map((letter) => text.split(letter).length - 1));
  }
}

registerEmbeddingFunction("sediment-letter-count", LetterCountEmbedding);

/** Rounds every number of a nested array, so float32 round trips compare exactly. */
export function rounded(value, digits = 5) {
  if (Array.isArray(value)) return value.map((item) => rounded(item, digits));
  return typeof value === "number" ? Math.round(value * 10 ** digits) / 10 ** digits : value;
}

/** A value as JSON would carry it: fields holding `undefined` (the client's empty row fields) dropped. */
export function plain(value) {
  return JSON.parse(JSON.stringify(value));
}
