import sys

from tasks.simulate.stage import main

sys.exit(main())
