import gc

from simbox.cli import main

code = main()
# the process ends here: spare it the collections over everything the command made
# (a full one at interpreter exit, ~20 ms after ``simbox features``)
gc.freeze()
raise SystemExit(code)
