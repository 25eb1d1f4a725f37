"""``python -m itsrace``: the same as the ``itsrace`` command."""

import sys

from itsrace.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
