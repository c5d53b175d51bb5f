"""``chromadb.api.rust``: Chroma's Rust-engine binding. Code imports ``RustBindingsAPI`` for ``isinstance``
checks on a client's private ``_server``; SedimentDB has no such object, so the name is a placeholder."""

from sedimentdb.unimplemented import declare

declare(globals(), "chromadb.api.rust", "RustBindingsAPI")
