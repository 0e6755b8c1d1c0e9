import sys

from tasks.evaluate.stage import main

sys.exit(main())
