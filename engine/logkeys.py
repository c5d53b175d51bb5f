"""The fixed structlog key names used across SedimentDB.

Log calls use these keys and no others, so operators can filter and alert on them. The
library never configures logging; entry points (the CLI, the server) do.
"""

EVENT = "event"
PATH = "path"
FILE = "file"
OFFSET = "offset"
LSN = "lsn"
FIRST_LSN = "first_lsn"
LAST_LSN = "last_lsn"
COLLECTION = "collection"
SEGMENT = "segment"
MANIFEST = "manifest"
GENERATION = "generation"
RECORDS = "records"
BYTES = "bytes"
DURATION_MS = "duration_ms"
ERROR = "error"
HINT = "hint"
MODE = "mode"
COUNT = "count"
