"""`python -m cnn_assignments.training`: the training driver (see driver.py)."""

import sys

from .driver import main

sys.exit(main())
