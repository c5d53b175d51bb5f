"""``python -m sedimentdb`` runs the ``sediment`` command line."""

from sedimentdb.tools.cli import main

if __name__ == "__main__":
    main()
