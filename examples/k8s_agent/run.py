"""``python examples/k8s_agent/run.py [--approve|--reject] [--model provider:model]``.

The same as ``python -m examples.k8s_agent``, from any directory.
"""

import sys
from pathlib import Path

# The repository root, so that `examples.k8s_agent` imports as a package.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from examples.k8s_agent.demo import main

if __name__ == "__main__":
    sys.exit(main())
