"""Library functions behind the ``sediment`` commands: importable, tested directly.

Each function takes a data directory path (and options) and returns plain data (dataclasses
or dicts that serialise to JSON); none of them prints. Progress is reported through an
optional ``progress(label, done, total)`` callback.
"""
