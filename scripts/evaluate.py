"""Zero-shot evaluation of checkpoints and baselines; same as `panda-lite evaluate`.

python scripts/evaluate.py --checkpoint CKPT --systems Lorenz,Rossler --out outputs/eval
"""

import sys

from panda_lite.cli import main

if __name__ == "__main__":
    sys.exit(main(["evaluate", *sys.argv[1:]]))
