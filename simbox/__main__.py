from simbox.cli import main

raise SystemExit(main())
