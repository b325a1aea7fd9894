"""``python -m ecrm``: the ``ecrm`` command."""

import sys

from ecrm.cli import main

if __name__ == "__main__":
    sys.exit(main())
