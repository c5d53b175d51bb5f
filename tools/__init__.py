"""The ``sediment`` command line: thin click wrappers over library functions."""
