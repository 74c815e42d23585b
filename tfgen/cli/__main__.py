"""`python -m tfgen.cli`: the command line (importing tfgen first registers its classes)."""

import sys

from tfgen.cli.main import main

sys.exit(main())
