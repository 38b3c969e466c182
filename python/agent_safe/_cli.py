"""The ``agent-safe`` console script: the Rust CLI, run in this process."""

from __future__ import annotations

import signal
import sys

from agent_safe import _native


def main() -> None:
    """Runs ``agent-safe`` with ``sys.argv`` and exits with its exit code.

    Exit codes: 0 allow (or success), 1 a failure found, 2 usage or
    configuration error, 3 deny, 4 require_approval.
    """
    # Ctrl-C must stop the Rust CLI the way it stops the native binary, not
    # raise KeyboardInterrupt (and print a traceback) once it returns.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    sys.exit(_native.run_cli(sys.argv))


if __name__ == "__main__":
    main()
