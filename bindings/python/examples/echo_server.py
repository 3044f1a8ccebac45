#!/usr/bin/env python3
"""The example echo server, runnable from the source tree: the code is the package's own `formi.echo`
(`python -m formi.echo` wherever formi is installed); read it there."""
import asyncio
import sys

from formi.echo import *  # noqa: F401,F403  (handle, handle_audiosocket, EchoCall ...: tests load this file)
from formi.echo import main

if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(130)
