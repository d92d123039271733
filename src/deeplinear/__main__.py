import sys

from deeplinear.pipeline.cli import main

sys.exit(main())
