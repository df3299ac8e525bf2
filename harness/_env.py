"""Process settings that must be in place before torch or tokenizers load.

On a shared or oversubscribed CPU, OpenMP's default busy-waiting makes torch with two or more
threads 10-30x slower (measured on a loaded 2-core machine: 16 tokens in 4.3 s with
``OMP_WAIT_POLICY=PASSIVE`` vs over 120 s without). Nothing in ``harness`` imports torch at
module level, so setting it here, on first import, is early enough. A user's own setting wins.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
