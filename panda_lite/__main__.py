"""`python -m panda_lite ...` is `panda-lite ...` (and `accelerate launch -m panda_lite train ...`)."""

import sys

from .cli import main

sys.exit(main())
