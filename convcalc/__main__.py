from convcalc.cli.fastpath import main

main()
