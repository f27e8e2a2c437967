"""`python -m horus` is the `horus` command."""

import sys

from horus.cli import main

sys.exit(main())
