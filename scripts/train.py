"""`panda-lite train` as a script, for launchers that want a file:

accelerate launch --multi_gpu --num_processes 8 scripts/train.py --config panda20m data.corpus=PATH
"""

import sys

from panda_lite.training.cli import main

if __name__ == "__main__":
    sys.exit(main("train"))
