"""``python -m mesh.cli`` is the ``oms`` command."""

import sys

from mesh.cli.app import main

sys.exit(main())
