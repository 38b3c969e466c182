"""``python -m examples.claude_agent``: see demo.py."""

import sys

from examples.claude_agent.demo import main

sys.exit(main())
