"""`panda-lite finetune` as a script, for launchers that want a file:

accelerate launch --multi_gpu --num_processes 2 scripts/finetune.py --base CKPT --data PATH --output DIR
"""

import sys

from panda_lite.training.cli import main

if __name__ == "__main__":
    sys.exit(main("finetune"))
