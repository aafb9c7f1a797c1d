from kbc_tui.cli import main

raise SystemExit(main())
