from csconsole.cli import main

raise SystemExit(main())
