import sys

from tasks.motion.stage import main

sys.exit(main())
