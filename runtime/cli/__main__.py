"""Run the command line as ``python -m styleforge.runtime.cli``."""
import sys

from . import main

sys.exit(main())
