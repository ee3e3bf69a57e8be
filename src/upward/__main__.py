from upward.cli import main

raise SystemExit(main())
