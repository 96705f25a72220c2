from mmdemo.cli import main

raise SystemExit(main())
